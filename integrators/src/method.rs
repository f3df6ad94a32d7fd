//! [`Method`]: run-time selection of an explicit integrator.

use core::fmt;

use crate::{Euler, Heun, Integrator, Rk4, State};

/// Run-time choice among the explicit integrators, e.g. from a configuration file.
///
/// [`Method::step`] dispatches with a single `match` per call to the corresponding unit
/// struct ([`Euler`], [`Heun`], [`Rk4`]), so it produces bit-identical results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// Forward Euler, order 1: `x + h·f(x)`. See [`Euler`].
    Euler,
    /// Heun / explicit trapezoid, order 2: `x + h/2·(k1 + k2)`. See [`Heun`].
    Heun,
    /// Classic Runge–Kutta, order 4: `x + h/6·(k1 + 2k2 + 2k3 + k4)`. See [`Rk4`].
    Rk4,
}

impl Method {
    /// All methods, in increasing order of accuracy.
    pub const ALL: [Method; 3] = [Method::Euler, Method::Heun, Method::Rk4];

    /// Parses a method name: `"euler"`, `"heun"` or `"rk4"` (ASCII case-insensitive).
    /// Returns `None` for anything else.
    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// The canonical lower-case name accepted by [`Method::from_name`].
    pub const fn name(self) -> &'static str {
        match self {
            Method::Euler => "euler",
            Method::Heun => "heun",
            Method::Rk4 => "rk4",
        }
    }

    /// Global order of accuracy: 1, 2 or 4.
    pub const fn order(self) -> u32 {
        match self {
            Method::Euler => 1,
            Method::Heun => 2,
            Method::Rk4 => 4,
        }
    }

    /// Derivative evaluations per step: 1, 2 or 4.
    pub const fn stages(self) -> u32 {
        match self {
            Method::Euler => 1,
            Method::Heun => 2,
            Method::Rk4 => 4,
        }
    }

    /// Advances `x` by one step of size `h` under `dx/dt = f(x)` with this method.
    #[inline]
    pub fn step<S: State, F: FnMut(S) -> S>(self, f: F, x: S, h: S::Scalar) -> S {
        match self {
            Method::Euler => Euler.step(f, x, h),
            Method::Heun => Heun.step(f, x, h),
            Method::Rk4 => Rk4.step(f, x, h),
        }
    }
}

impl Integrator for Method {
    #[inline]
    fn order(&self) -> u32 {
        Method::order(*self)
    }

    #[inline]
    fn stages(&self) -> u32 {
        Method::stages(*self)
    }

    #[inline]
    fn step<S: State, F: FnMut(S) -> S>(&self, f: F, x: S, h: S::Scalar) -> S {
        Method::step(*self, f, x, h)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(Method::from_name("euler"), Some(Method::Euler));
        assert_eq!(Method::from_name("heun"), Some(Method::Heun));
        assert_eq!(Method::from_name("rk4"), Some(Method::Rk4));
        assert_eq!(Method::from_name("RK4"), Some(Method::Rk4));
        assert_eq!(Method::from_name("rk2"), None);
        assert_eq!(Method::from_name(""), None);
        assert_eq!(Method::from_name(" euler"), None);
        for m in Method::ALL {
            assert_eq!(Method::from_name(m.name()), Some(m));
            assert_eq!(m.to_string(), m.name());
        }
    }

    #[test]
    fn orders() {
        assert_eq!(Method::ALL.map(Method::order), [1, 2, 4]);
        assert_eq!(Method::ALL.map(Method::stages), [1, 2, 4]);
        assert_eq!(Integrator::order(&Method::Rk4), Rk4.order());
    }

    #[test]
    fn dispatch_matches_unit_structs() {
        let f = |x: f32| 0.3 - 1.7 * x * x;
        let (x, h) = (0.9_f32, 0.37_f32);
        assert_eq!(Method::Euler.step(f, x, h), Euler.step(f, x, h));
        assert_eq!(Method::Heun.step(f, x, h), Heun.step(f, x, h));
        assert_eq!(Method::Rk4.step(f, x, h), Rk4.step(f, x, h));
        // The three methods genuinely differ on a nonlinear problem.
        let r = Method::ALL.map(|m| m.step(f, x, h));
        assert!(r[0] != r[1] && r[1] != r[2] && r[0] != r[2]);
    }
}

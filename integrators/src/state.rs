//! The [`State`] trait: anything an integrator can advance, i.e. an element of a real
//! vector space.

use crate::Scalar;

/// An integrable state: an element of a real vector space over [`State::Scalar`].
///
/// The integrators only need the vector-space operations `x + y`, `x − y` and `a·x`,
/// expressed here as methods rather than as `Add`/`Mul` supertraits so that the trait can
/// also be implemented for `[T; N]` (arrays implement no arithmetic operators, and the
/// orphan rule forbids adding them here).
///
/// Implemented for:
///
/// * `f32`, `f64` (the scalar is the type itself);
/// * `glam::Vec2`, `Vec3`, `Vec3A`, `Vec4` (scalar `f32`) and `glam::DVec2`, `DVec3`,
///   `DVec4` (scalar `f64`);
/// * `[T; N]` for any [`Scalar`] `T` and any `const N` (component-wise).
///
/// Other types that already implement `Add`, `Sub` and `Mul<Scalar>` can opt in with
/// [`impl_state_via_ops!`](crate::impl_state_via_ops).
///
/// Implementations must satisfy the vector-space laws up to floating-point rounding:
/// `plus` is commutative and associative, `minus(y) == plus(y.scale(-1))`, and `scale`
/// distributes over `plus`.
pub trait State: Copy {
    /// The real field (`f32` or `f64`) the state is scaled by; also the type of the step
    /// size `h`.
    type Scalar: Scalar;

    /// Vector addition `self + rhs`.
    fn plus(self, rhs: Self) -> Self;

    /// Vector subtraction `self − rhs`.
    fn minus(self, rhs: Self) -> Self;

    /// Scalar multiplication `a · self`.
    fn scale(self, a: Self::Scalar) -> Self;

    /// The "axpy" update `self + a · v`, the building block of every Runge–Kutta stage.
    #[inline]
    fn add_scaled(self, a: Self::Scalar, v: Self) -> Self {
        self.plus(v.scale(a))
    }
}

/// Implements [`State`] for types that already have the arithmetic operators
/// `Add<Output = Self>`, `Sub<Output = Self>` and `Mul<Scalar, Output = Self>`.
///
/// Usage: `impl_state_via_ops!(f64 => MyVec, MyOtherVec);`
///
/// ```
/// use core::ops::{Add, Mul, Sub};
/// use ember_integrators::{impl_state_via_ops, Integrator, Rk4};
///
/// #[derive(Clone, Copy, Debug)]
/// struct Pair(f64, f64);
/// impl Add for Pair { type Output = Self; fn add(self, o: Self) -> Self { Pair(self.0 + o.0, self.1 + o.1) } }
/// impl Sub for Pair { type Output = Self; fn sub(self, o: Self) -> Self { Pair(self.0 - o.0, self.1 - o.1) } }
/// impl Mul<f64> for Pair { type Output = Self; fn mul(self, a: f64) -> Self { Pair(self.0 * a, self.1 * a) } }
/// impl_state_via_ops!(f64 => Pair);
///
/// // dx/dt = 1, dy/dt = x: RK4 is exact for this polynomial solution.
/// let p = Rk4.step(|p: Pair| Pair(1.0, p.0), Pair(0.0, 0.0), 2.0);
/// assert_eq!((p.0, p.1), (2.0, 2.0));
/// ```
#[macro_export]
macro_rules! impl_state_via_ops {
    ($scalar:ty => $($t:ty),+ $(,)?) => {$(
        impl $crate::State for $t {
            type Scalar = $scalar;
            #[inline]
            fn plus(self, rhs: Self) -> Self {
                self + rhs
            }
            #[inline]
            fn minus(self, rhs: Self) -> Self {
                self - rhs
            }
            #[inline]
            fn scale(self, a: $scalar) -> Self {
                self * a
            }
        }
    )+};
}

impl_state_via_ops!(f32 => f32, glam::Vec2, glam::Vec3, glam::Vec3A, glam::Vec4);
impl_state_via_ops!(f64 => f64, glam::DVec2, glam::DVec3, glam::DVec4);

impl<T: Scalar, const N: usize> State for [T; N] {
    type Scalar = T;

    #[inline]
    fn plus(self, rhs: Self) -> Self {
        core::array::from_fn(|i| self[i] + rhs[i])
    }

    #[inline]
    fn minus(self, rhs: Self) -> Self {
        core::array::from_fn(|i| self[i] - rhs[i])
    }

    #[inline]
    fn scale(self, a: T) -> Self {
        self.map(|v| v * a)
    }

    #[inline]
    fn add_scaled(self, a: T, v: Self) -> Self {
        core::array::from_fn(|i| self[i] + a * v[i])
    }
}

#[cfg(test)]
mod tests {
    use super::State;
    use glam::{DVec3, Vec2, Vec4};

    #[test]
    fn scalar_states() {
        assert_eq!(1.5_f32.plus(2.0), 3.5);
        assert_eq!(1.5_f64.minus(2.0), -0.5);
        assert_eq!(1.5_f32.scale(2.0), 3.0);
        assert_eq!(1.0_f64.add_scaled(0.5, 4.0), 3.0);
    }

    #[test]
    fn glam_states() {
        let a = Vec2::new(1.0, 2.0);
        let b = Vec2::new(3.0, -1.0);
        assert_eq!(a.plus(b), Vec2::new(4.0, 1.0));
        assert_eq!(a.minus(b), Vec2::new(-2.0, 3.0));
        assert_eq!(a.scale(3.0), Vec2::new(3.0, 6.0));
        assert_eq!(a.add_scaled(2.0, b), Vec2::new(7.0, 0.0));
        assert_eq!(Vec4::ONE.add_scaled(-1.0, Vec4::ONE), Vec4::ZERO);
        assert_eq!(
            DVec3::new(1.0, 2.0, 3.0).scale(0.5),
            DVec3::new(0.5, 1.0, 1.5)
        );
    }

    #[test]
    fn array_states() {
        let a = [1.0_f32, 2.0, 3.0];
        let b = [0.5_f32, -1.0, 2.0];
        assert_eq!(a.plus(b), [1.5, 1.0, 5.0]);
        assert_eq!(a.minus(b), [0.5, 3.0, 1.0]);
        assert_eq!(a.scale(2.0), [2.0, 4.0, 6.0]);
        assert_eq!(a.add_scaled(2.0, b), [2.0, 0.0, 7.0]);
        let c = [1.0_f64; 5];
        assert_eq!(c.add_scaled(-0.25, c), [0.75; 5]);
        let empty: [f64; 0] = [];
        assert_eq!(empty.plus(empty), empty);
    }
}

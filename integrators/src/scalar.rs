//! The [`Scalar`] trait: the real number type (`f32` or `f64`) a [`State`](crate::State)
//! is scaled by.

use core::fmt::{Debug, Display};
use core::ops::{Add, Div, Mul, Neg, Sub};

/// A real floating-point number usable as a step size and as the field over which a
/// [`State`](crate::State) is a vector space.
///
/// Implemented for `f32` and `f64` only. The arithmetic operators come from the
/// supertraits; the methods below supply the constants and the few transcendental
/// functions the integrators need without a dependency on a numerics crate.
pub trait Scalar:
    Copy
    + Debug
    + Display
    + Default
    + PartialOrd
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// Converts from `f64`, rounding to nearest when `Self` is `f32`.
    fn from_f64(v: f64) -> Self;
    /// Converts to `f64` (exact for both `f32` and `f64`).
    fn to_f64(self) -> f64;
    /// The additive identity, `0`.
    fn zero() -> Self;
    /// The multiplicative identity, `1`.
    fn one() -> Self;
    /// One half, `1/2` (exact in binary floating point).
    fn half() -> Self;
    /// Two, `2`.
    fn two() -> Self;
    /// The exponential function `e^self`.
    fn exp(self) -> Self;
    /// The absolute value `|self|`.
    fn abs(self) -> Self;
}

macro_rules! impl_scalar {
    ($($t:ty),+) => {$(
        impl Scalar for $t {
            #[inline]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline]
            fn to_f64(self) -> f64 {
                f64::from(self)
            }
            #[inline]
            fn zero() -> Self {
                0.0
            }
            #[inline]
            fn one() -> Self {
                1.0
            }
            #[inline]
            fn half() -> Self {
                0.5
            }
            #[inline]
            fn two() -> Self {
                2.0
            }
            #[inline]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
        }
    )+};
}

impl_scalar!(f32, f64);

#[cfg(test)]
mod tests {
    use super::Scalar;

    fn constants<T: Scalar>() -> [f64; 4] {
        [T::zero(), T::one(), T::half(), T::two()].map(Scalar::to_f64)
    }

    #[test]
    fn constants_have_expected_values() {
        assert_eq!(constants::<f32>(), [0.0, 1.0, 0.5, 2.0]);
        assert_eq!(constants::<f64>(), [0.0, 1.0, 0.5, 2.0]);
    }

    #[test]
    fn conversions_and_functions() {
        assert_eq!(<f32 as Scalar>::from_f64(0.1), 0.1_f32);
        assert_eq!(<f64 as Scalar>::from_f64(0.1), 0.1_f64);
        assert_eq!(Scalar::to_f64(0.5_f32), 0.5);
        assert_eq!(Scalar::exp(1.0_f64), core::f64::consts::E);
        assert!((Scalar::exp(1.0_f32) - core::f32::consts::E).abs() < 1e-6);
        assert_eq!(Scalar::abs(-3.0_f32), 3.0);
        assert_eq!(Scalar::abs(-3.0_f64), 3.0);
    }
}

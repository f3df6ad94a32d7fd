//! Pure numerical time integrators for the Ember spiking neural network simulator.
//!
//! This crate advances ordinary differential equations `dx/dt = f(x)` by one time step.
//! It has no ECS or engine dependency; the caller freezes all inputs (currents,
//! parameters) for the duration of a step by capturing them in the closure `f`.
//!
//! * [`State`]: the vector-space trait for integrable state, implemented for `f32`, `f64`,
//!   glam vectors (`Vec2`…`Vec4`, `DVec2`…`DVec4`) and `[f32; N]` / `[f64; N]`.
//! * [`Euler`], [`Heun`], [`Rk4`]: explicit Runge–Kutta methods of global order 1, 2 and
//!   4, implementing [`Integrator`]; [`Method`] selects one at run time.
//! * [`decay_factor`] and [`relax_exact`]: the exact step for linear relaxation
//!   `dx/dt = (x∞ − x)/τ`, used by leaky integrate-and-fire style models.
//!
//! # Example
//!
//! A leaky membrane `dV/dt = (−(V − V_rest) + I/g_L)/τ`, stepped with RK4 and exactly:
//!
//! ```
//! use ember_integrators::{decay_factor, relax_exact, Integrator, Method, Rk4};
//!
//! let (v_rest, g_l, tau, i_ext, h) = (-75.0_f32, 5.0, 5.0, 100.0, 1.0);
//! let dvdt = |v: f32| (-(v - v_rest) + i_ext / g_l) / tau;
//!
//! let v_rk4 = Rk4.step(dvdt, v_rest, h);
//! let v_exact = relax_exact(v_rest, v_rest + i_ext / g_l, decay_factor(h, tau));
//! assert!((v_rk4 - v_exact).abs() < 1e-3); // -71.37466 vs -71.37462
//!
//! // Run-time selection gives the same result.
//! let m = Method::from_name("rk4").unwrap();
//! assert_eq!(m.order(), 4);
//! assert_eq!(m.step(dvdt, v_rest, h), v_rk4);
//! ```

mod exact;
mod explicit;
mod method;
mod scalar;
mod state;

pub use exact::{decay_factor, relax_exact};
pub use explicit::{Euler, Heun, Integrator, Rk4, integrate};
pub use method::Method;
pub use scalar::Scalar;
pub use state::State;

/// Re-export of glam, whose vector types implement [`State`].
pub use glam;

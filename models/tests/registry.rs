//! The model registry refuses a second type under a registered name, and model clear hooks
//! run on `Simulation::clear`.

use ember_engine::bevy_ecs::prelude::*;
use ember_engine::prelude::*;
use ember_engine::{BuildErrorKind, ModelSystems, ParamError, ParamReader};
use ember_models::register_all;

/// A user model that (wrongly) reuses the name `lif` and counts its clears.
#[derive(Component, Clone, Debug, Default)]
struct Impostor {
    clears: u32,
}

impl NeuronModel for Impostor {
    const NAME: &'static str = "lif";
    const PARAMS: &'static [&'static str] = &[];

    fn from_params(_: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Self::default())
    }
    fn validate(&self, _: usize) -> Result<(), ParamError> {
        Ok(())
    }
    fn initial_voltage(&self, _: usize) -> f32 {
        0.0
    }
    fn add_systems(_: &mut ModelSystems<'_>) {}
    fn clear(entity: &mut EntityWorldMut<'_>, _keep_adaptations: bool) {
        if let Some(mut m) = entity.get_mut::<Impostor>() {
            m.clears += 1;
        }
    }
}

#[test]
fn a_second_type_under_a_registered_name_is_an_error() {
    let mut sim = Simulation::new(SimConfig::default()).unwrap();
    register_all(&mut sim);
    let err = sim
        .add_population("x", 3, Impostor::default(), Default::default())
        .unwrap_err();
    assert!(
        matches!(err.kind, BuildErrorKind::Duplicate { ref name, .. } if name == "lif"),
        "{err}"
    );
    assert!(err.path.ends_with(".model"), "{err}");
}

#[test]
fn clear_runs_the_models_hook() {
    let mut sim = Simulation::new(SimConfig::default()).unwrap();
    let p = sim
        .add_population("x", 3, Impostor::default(), Default::default())
        .unwrap();
    sim.clear(true);
    sim.clear(false);
    assert_eq!(sim.get::<Impostor>(p).unwrap().clears, 2);
}

//! Input elision: when a fused neuron pass may leave `SynapticInput` untouched.
//!
//! [`SynapticInput`] holds a step's total input current: cleared in
//! [`Phase::Start`](crate::Phase::Start), stimuli added in
//! [`Phase::Stimuli`](crate::Phase::Stimuli), projection currents added by the aggregation
//! (or inside a fused neuron pass, [`FusedAggregation`](crate::FusedAggregation)). On a
//! small network that array costs as much as the rest of the neuron update: it is zeroed,
//! read and written back every step, although in most runs nothing but the neuron pass ever
//! looks at it. So the array is treated lazily, without changing what anyone can observe:
//!
//! - **Clearing** only happens where something wrote the array since the last clear (bevy's
//!   change ticks; every write through `Mut` or `world.get_mut` counts). A buffer nobody
//!   wrote is still all zeros.
//! - **The fused pass** reads the array only if something wrote it this step, and writes its
//!   total back only where that total can be seen afterwards: a population whose `input` is
//!   traced, or every population when any system the engine does not know touches
//!   `SynapticInput` (a user recorder, a homeostatic controller, an exclusive system). The
//!   sums are the same either way (`0 + c₀ + c₁ …` in the same order), so spikes and
//!   traces are bit-identical with or without elision.
//!
//! [`InputVisibility`] makes that decision. Systems of the engine and of the built-in models
//! that touch `SynapticInput` only before the neuron pass (stimuli) or only for their own
//! populations (other neuron models) are *trusted* ([`crate::ModelSystems::add_input_user`]);
//! [`Simulation::initialize`](crate::Simulation::initialize) scans the step schedule's
//! system accesses and the trace recorders before every run. Anything it cannot vouch for
//! keeps the input materialised, so elision only ever removes work nobody can see. (Who
//! runs the step schedule by hand rather than through `run_steps` / `run_for` must call
//! `initialize` after changing the schedule or the recorders, as for any schedule change.)

use std::any::TypeId;

use bevy_ecs::component::ComponentId;
use bevy_ecs::prelude::*;
use bevy_ecs::query::Access;
use bevy_ecs::schedule::{Schedule, SystemWithAccess};
use bevy_ecs::system::{System, SystemAccess};

use crate::population::SynapticInput;
use crate::record::{TraceRecorder, TraceVariable};

/// Which populations must keep their step's total input in [`SynapticInput`] after the
/// neuron pass (see the module docs). Until the first refresh every population keeps it.
#[derive(Resource, Clone, Debug, Default)]
pub struct InputVisibility {
    /// The last refresh's verdict; `None` (never refreshed): keep everywhere.
    seen: Option<Observed>,
}

/// The verdict of one [`InputVisibility::refresh`].
#[derive(Clone, Debug)]
struct Observed {
    /// Some untrusted system touches `SynapticInput`: every population keeps its total.
    all: bool,
    /// Populations whose `input` is traced, sorted.
    traced: Vec<Entity>,
}

impl InputVisibility {
    /// Whether `population`'s neuron pass must leave its total input in `SynapticInput`.
    #[inline]
    pub fn must_keep(&self, population: Entity) -> bool {
        match &self.seen {
            None => true,
            Some(o) => o.all || o.traced.binary_search(&population).is_ok(),
        }
    }

    /// Re-derives the verdict from `schedule` (initialised), the systems of types
    /// `trusted` (see [`System::system_type`]) and the trace recorders in `world`.
    ///
    /// [`System::system_type`]: bevy_ecs::system::System::system_type
    pub(crate) fn refresh(world: &mut World, schedule: &Schedule, trusted: &[TypeId]) {
        let id = world.component_id::<SynapticInput>();
        let all = match (id, schedule.systems_with_access()) {
            (Some(id), Ok(mut systems)) => systems.any(|(_, s)| observes(s, id, trusted)),
            // Nobody can touch a component that was never registered.
            (None, Ok(_)) => false,
            (_, Err(_)) => true,
        };
        let mut traced: Vec<Entity> = world
            .query::<&TraceRecorder>()
            .iter(world)
            .filter(|r| r.variables.contains(&TraceVariable::Input))
            .map(|r| r.target)
            .collect();
        traced.sort_unstable();
        traced.dedup();
        world.insert_resource(InputVisibility {
            seen: Some(Observed { all, traced }),
        });
    }
}

/// Whether `s` may see a fused pass's total: it touches `SynapticInput` (or the whole
/// world) and is not `trusted`.
fn observes(s: &SystemWithAccess, id: ComponentId, trusted: &[TypeId]) -> bool {
    untrusted_touches(s, trusted, |a| a.has_read(id) || a.has_write(id))
}

/// Whether system `s` is not `trusted` (by its own type, not its box's) and either has
/// exclusive access to the world or an access set for which `touches` holds.
pub(crate) fn untrusted_touches(
    s: &SystemWithAccess,
    trusted: &[TypeId],
    touches: impl Fn(&Access) -> bool,
) -> bool {
    if trusted.contains(&(**s.system()).system_type()) {
        return false;
    }
    match s.access() {
        SystemAccess::None => false,
        SystemAccess::Exclusive => true,
        SystemAccess::Shared(set) => touches(set.combined_access()),
    }
}

/// The type id under which the schedule knows `system` (for the trusted list).
pub(crate) fn system_type_of<M, S: IntoSystem<(), (), M>>(system: S) -> TypeId {
    IntoSystem::into_system(system).system_type()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_refresh_every_population_keeps_its_input() {
        let v = InputVisibility::default();
        assert!(v.must_keep(Entity::from_raw_u32(3).expect("valid")));
    }
}

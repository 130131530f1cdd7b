//! Personas (`chat_fake_users`): named identities that admins speak as.
//!
//! Admins manage them; users see only the active personas that accept DMs, and only
//! their public fields. A persona flagged `is_support_agent` can be the face of support
//! conversations; the service refuses to lose its last active one.

mod create;
mod list;
mod model;
mod ports;
mod update;

pub use self::create::{CreatePersonaError, create_persona};
pub use self::list::{ListPersonasError, list_dm_personas, list_personas};
pub use self::model::{NewPersona, Persona, PersonaPatch};
#[cfg(any(test, feature = "mock"))]
pub use self::ports::MockPersonaRepository;
pub use self::ports::PersonaRepository;
pub use self::update::{UpdatePersonaError, update_persona};

#[cfg(test)]
mod test_support {
    use chrono::Utc;

    use super::{NewPersona, Persona};
    use crate::ids::PersonaId;
    use crate::values::PersonaName;

    pub(crate) fn persona(id: i32, name: &str) -> Persona {
        Persona {
            id: PersonaId(id),
            name: name.to_owned(),
            avatar_url: None,
            bio: None,
            dm_enabled: false,
            is_support_agent: false,
            is_active: true,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    pub(crate) fn new_persona(name: &str) -> NewPersona {
        NewPersona {
            name: PersonaName::parse(name).unwrap(),
            avatar_url: None,
            bio: None,
            dm_enabled: true,
            is_support_agent: false,
        }
    }
}

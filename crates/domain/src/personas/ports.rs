//! The persona repository port.
//!
//! Synchronous by design: use cases run inside one transaction on a blocking thread
//! (see [`crate::store`]), so ports are plain method calls on that transaction.

use crate::error::RepoError;
use crate::ids::PersonaId;
use crate::personas::model::{NewPersona, Persona, PersonaPatch};

/// Storage of personas.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait PersonaRepository {
    /// All personas, active or not, ordered by id.
    fn list_personas(&mut self) -> Result<Vec<Persona>, RepoError>;

    /// The persona with this id, or `Ok(None)` when there is none. Implementations MUST
    /// lock the row until the transaction ends (it is read before an update).
    fn find_persona(&mut self, id: PersonaId) -> Result<Option<Persona>, RepoError>;

    /// Stores a new persona and returns it with its id and timestamps.
    fn insert_persona(&mut self, new: &NewPersona) -> Result<Persona, RepoError>;

    /// Applies `patch` to an existing persona and returns the result. Implementations MUST
    /// return `Ok(None)` when the persona does not exist.
    fn update_persona(&mut self, id: PersonaId, patch: &PersonaPatch) -> Result<Option<Persona>, RepoError>;

    /// How many personas are active support agents. Implementations MUST serialize
    /// callers of this method until the transaction ends, so two admins cannot each
    /// retire "another" agent and leave none.
    fn count_active_support_agents(&mut self) -> Result<i64, RepoError>;
}

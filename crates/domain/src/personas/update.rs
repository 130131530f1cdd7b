//! Use case: an admin changes a persona.

use crate::error::RepoError;
use crate::ids::PersonaId;
use crate::personas::model::{Persona, PersonaPatch};
use crate::personas::ports::PersonaRepository;
use crate::principal::Principal;

/// Why a persona could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum UpdatePersonaError {
    /// Only admins manage personas.
    #[error("only admins may manage personas")]
    Forbidden,
    /// No persona has this id.
    #[error("persona not found")]
    NotFound,
    /// The change would leave support conversations without any active support agent.
    #[error("at least one active support agent persona must remain")]
    LastSupportAgent,
    /// Storage failure.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Applies `patch` to the persona `id`.
pub fn update_persona(
    repo: &mut (impl PersonaRepository + ?Sized),
    caller: &Principal,
    id: PersonaId,
    patch: &PersonaPatch,
) -> Result<Persona, UpdatePersonaError> {
    if !caller.is_admin() {
        return Err(UpdatePersonaError::Forbidden);
    }
    let current = repo.find_persona(id)?.ok_or(UpdatePersonaError::NotFound)?;
    if patch.is_empty() {
        return Ok(current);
    }
    if patch.removes_support_agent(&current) && repo.count_active_support_agents()? <= 1 {
        return Err(UpdatePersonaError::LastSupportAgent);
    }
    repo.update_persona(id, patch)?.ok_or(UpdatePersonaError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use crate::personas::ports::MockPersonaRepository;
    use crate::personas::test_support::persona;

    const ADMIN: Principal = Principal::admin(UserId(1));

    fn agent() -> Persona {
        Persona { is_support_agent: true, ..persona(3, "Sam") }
    }

    #[test]
    fn missing_persona_is_not_found() {
        let mut repo = MockPersonaRepository::new();
        repo.expect_find_persona().returning(|_| Ok(None));
        repo.expect_update_persona().never();
        let patch = PersonaPatch { dm_enabled: Some(true), ..PersonaPatch::default() };
        assert!(matches!(update_persona(&mut repo, &ADMIN, PersonaId(3), &patch), Err(UpdatePersonaError::NotFound)));
    }

    #[test]
    fn the_last_support_agent_cannot_be_deactivated() {
        let mut repo = MockPersonaRepository::new();
        repo.expect_find_persona().returning(|_| Ok(Some(agent())));
        repo.expect_count_active_support_agents().returning(|| Ok(1));
        repo.expect_update_persona().never();
        for patch in [
            PersonaPatch { is_active: Some(false), ..PersonaPatch::default() },
            PersonaPatch { is_support_agent: Some(false), ..PersonaPatch::default() },
        ] {
            assert!(matches!(
                update_persona(&mut repo, &ADMIN, PersonaId(3), &patch),
                Err(UpdatePersonaError::LastSupportAgent)
            ));
        }
    }

    #[test]
    fn a_support_agent_can_retire_when_another_remains() {
        let mut repo = MockPersonaRepository::new();
        repo.expect_find_persona().returning(|_| Ok(Some(agent())));
        repo.expect_count_active_support_agents().returning(|| Ok(2));
        repo.expect_update_persona().times(1).returning(|_, _| Ok(Some(Persona { is_active: false, ..agent() })));
        let patch = PersonaPatch { is_active: Some(false), ..PersonaPatch::default() };
        assert!(!update_persona(&mut repo, &ADMIN, PersonaId(3), &patch).unwrap().is_active);
    }

    #[test]
    fn other_changes_do_not_count_agents() {
        let mut repo = MockPersonaRepository::new();
        repo.expect_find_persona().returning(|_| Ok(Some(agent())));
        repo.expect_count_active_support_agents().never();
        repo.expect_update_persona().times(1).returning(|_, _| Ok(Some(agent())));
        let patch = PersonaPatch { dm_enabled: Some(true), ..PersonaPatch::default() };
        assert!(update_persona(&mut repo, &ADMIN, PersonaId(3), &patch).is_ok());
    }

    #[test]
    fn users_are_refused_before_any_read() {
        let mut repo = MockPersonaRepository::new();
        repo.expect_find_persona().never();
        let patch = PersonaPatch { dm_enabled: Some(true), ..PersonaPatch::default() };
        assert!(matches!(
            update_persona(&mut repo, &Principal::user(UserId(2)), PersonaId(3), &patch),
            Err(UpdatePersonaError::Forbidden)
        ));
    }
}

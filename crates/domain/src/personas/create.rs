//! Use case: an admin creates a persona.

use crate::error::RepoError;
use crate::personas::model::{NewPersona, Persona};
use crate::personas::ports::PersonaRepository;
use crate::principal::Principal;

/// Why a persona could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreatePersonaError {
    /// Only admins manage personas.
    #[error("only admins may manage personas")]
    Forbidden,
    /// Storage failure.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Creates a persona.
pub fn create_persona(
    repo: &mut (impl PersonaRepository + ?Sized),
    caller: &Principal,
    new: &NewPersona,
) -> Result<Persona, CreatePersonaError> {
    if !caller.is_admin() {
        return Err(CreatePersonaError::Forbidden);
    }
    Ok(repo.insert_persona(new)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use crate::personas::ports::MockPersonaRepository;
    use crate::personas::test_support::{new_persona, persona};

    #[test]
    fn admins_create_personas() {
        let mut repo = MockPersonaRepository::new();
        repo.expect_insert_persona().withf(|n| n.name.as_str() == "Ava").times(1).returning(|_| Ok(persona(7, "Ava")));
        let created = create_persona(&mut repo, &Principal::admin(UserId(1)), &new_persona("Ava")).unwrap();
        assert_eq!(created.name, "Ava");
    }

    #[test]
    fn users_are_refused_before_anything_is_stored() {
        let mut repo = MockPersonaRepository::new();
        repo.expect_insert_persona().never();
        let err = create_persona(&mut repo, &Principal::user(UserId(1)), &new_persona("Ava")).unwrap_err();
        assert!(matches!(err, CreatePersonaError::Forbidden));
    }
}

//! Use cases: list personas (admins see all; users see those that accept DMs).

use crate::error::RepoError;
use crate::personas::model::Persona;
use crate::personas::ports::PersonaRepository;
use crate::principal::Principal;

/// Why personas could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListPersonasError {
    /// The full list is for admins.
    #[error("only admins may list every persona")]
    Forbidden,
    /// Storage failure.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Every persona, for admins.
pub fn list_personas(
    repo: &mut (impl PersonaRepository + ?Sized),
    caller: &Principal,
) -> Result<Vec<Persona>, ListPersonasError> {
    if !caller.is_admin() {
        return Err(ListPersonasError::Forbidden);
    }
    Ok(repo.list_personas()?)
}

/// The personas a user may start a DM with: active and DM-enabled.
pub fn list_dm_personas(repo: &mut (impl PersonaRepository + ?Sized)) -> Result<Vec<Persona>, RepoError> {
    let mut personas = repo.list_personas()?;
    personas.retain(Persona::accepts_dms);
    Ok(personas)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use crate::personas::ports::MockPersonaRepository;
    use crate::personas::test_support::persona;

    #[test]
    fn users_see_only_active_dm_enabled_personas() {
        let mut repo = MockPersonaRepository::new();
        repo.expect_list_personas().returning(|| {
            let open = Persona { dm_enabled: true, ..persona(1, "Open") };
            let closed = Persona { dm_enabled: false, ..persona(2, "Closed") };
            let retired = Persona { dm_enabled: true, is_active: false, ..persona(3, "Retired") };
            Ok(vec![open, closed, retired])
        });
        let names: Vec<_> = list_dm_personas(&mut repo).unwrap().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["Open"]);
    }

    #[test]
    fn only_admins_list_everything() {
        let mut repo = MockPersonaRepository::new();
        repo.expect_list_personas().never();
        assert!(matches!(list_personas(&mut repo, &Principal::user(UserId(4))), Err(ListPersonasError::Forbidden)));
    }
}

//! The persona entity and the validated commands that change it.

use chrono::{DateTime, Utc};

use crate::ids::PersonaId;
use crate::values::{Bio, HttpsUrl, PersonaName};

/// A persona as stored. Fields are plain strings: rows written by the existing app are
/// shown as they are, even if they predate this service's validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persona {
    /// Its id.
    pub id: PersonaId,
    /// The name users see.
    pub name: String,
    /// The avatar shown in conversation headers.
    pub avatar_url: Option<String>,
    /// A short biography.
    pub bio: Option<String>,
    /// Whether users may start a DM with it.
    pub dm_enabled: bool,
    /// Whether it can be the face of support conversations.
    pub is_support_agent: bool,
    /// Inactive personas are hidden from users and cannot be used for new messages.
    pub is_active: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl Persona {
    /// Whether users may see it and start a DM with it.
    pub const fn accepts_dms(&self) -> bool {
        self.is_active && self.dm_enabled
    }

    /// Whether it can currently be the face of support.
    pub const fn is_active_support_agent(&self) -> bool {
        self.is_active && self.is_support_agent
    }
}

/// A validated request to create a persona.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPersona {
    /// Its name.
    pub name: PersonaName,
    /// Its avatar.
    pub avatar_url: Option<HttpsUrl>,
    /// Its biography.
    pub bio: Option<Bio>,
    /// Whether users may DM it.
    pub dm_enabled: bool,
    /// Whether it can be the face of support.
    pub is_support_agent: bool,
}

/// A validated partial update. `None` leaves a field as it is; for the optional fields,
/// `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonaPatch {
    /// New name.
    pub name: Option<PersonaName>,
    /// New avatar, or cleared.
    pub avatar_url: Option<Option<HttpsUrl>>,
    /// New biography, or cleared.
    pub bio: Option<Option<Bio>>,
    /// New DM flag.
    pub dm_enabled: Option<bool>,
    /// New support-agent flag.
    pub is_support_agent: Option<bool>,
    /// Activate or deactivate.
    pub is_active: Option<bool>,
}

impl PersonaPatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Whether applying the patch to `persona` takes away an active support agent.
    pub fn removes_support_agent(&self, persona: &Persona) -> bool {
        let stays_agent = self.is_support_agent.unwrap_or(persona.is_support_agent);
        let stays_active = self.is_active.unwrap_or(persona.is_active);
        persona.is_active_support_agent() && !(stays_agent && stays_active)
    }
}

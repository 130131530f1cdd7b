//! Persona bodies.

use chat_domain::personas::{NewPersona, Persona, PersonaPatch};
use chat_domain::values::{Bio, HttpsUrl, PersonaName};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::Violations;
use crate::extract::double_option;
use crate::problem::ApiError;

/// A persona, as admins see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = example_admin_persona)]
pub struct AdminPersona {
    /// Its id.
    #[schema(example = 1)]
    pub id: i32,
    /// The name users see.
    #[schema(example = "Sam from Support")]
    pub name: String,
    /// Avatar shown in conversation headers.
    #[schema(example = "https://cdn.example.com/sam.png")]
    pub avatar_url: Option<String>,
    /// Short biography.
    #[schema(example = "Here to help, every day.")]
    pub bio: Option<String>,
    /// Whether users may start a DM with it.
    pub dm_enabled: bool,
    /// Whether it can be the face of support conversations.
    pub is_support_agent: bool,
    /// Inactive personas are hidden from users.
    pub is_active: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<Persona> for AdminPersona {
    fn from(p: Persona) -> Self {
        Self {
            id: p.id.get(),
            name: p.name,
            avatar_url: p.avatar_url,
            bio: p.bio,
            dm_enabled: p.dm_enabled,
            is_support_agent: p.is_support_agent,
            is_active: p.is_active,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A persona's public face, as users see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = example_public_persona)]
pub struct PublicPersona {
    /// Its id (use it as `targetId` with `targetType: fake_user` to start a DM).
    #[schema(example = 2)]
    pub id: i32,
    /// Its name.
    #[schema(example = "Coach Mia")]
    pub name: String,
    /// Its avatar.
    #[schema(example = "https://cdn.example.com/mia.png")]
    pub avatar_url: Option<String>,
    /// Its biography.
    #[schema(example = "Community coach. Ask me anything.")]
    pub bio: Option<String>,
}

impl From<Persona> for PublicPersona {
    fn from(p: Persona) -> Self {
        Self { id: p.id.get(), name: p.name, avatar_url: p.avatar_url, bio: p.bio }
    }
}

/// A list of personas (admin view).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = example_admin_persona_list)]
pub struct AdminPersonaList {
    /// Every persona, by id.
    pub items: Vec<AdminPersona>,
}

/// A list of personas (public view).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = example_public_persona_list)]
pub struct PublicPersonaList {
    /// The personas that accept DMs, by id.
    pub items: Vec<PublicPersona>,
}

/// Creates a persona.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "name": "Coach Mia",
    "avatarUrl": "https://cdn.example.com/mia.png",
    "bio": "Community coach. Ask me anything.",
    "dmEnabled": true,
    "isSupportAgent": false
}))]
pub struct CreatePersonaRequest {
    /// 1..=64 characters, one line.
    #[schema(example = "Coach Mia")]
    pub name: String,
    /// An `https://` URL.
    #[schema(example = "https://cdn.example.com/mia.png")]
    pub avatar_url: Option<String>,
    /// Up to 500 characters.
    #[schema(example = "Community coach. Ask me anything.")]
    pub bio: Option<String>,
    /// Whether users may DM it (default false).
    #[serde(default)]
    pub dm_enabled: bool,
    /// Whether it can be the face of support (default false).
    #[serde(default)]
    pub is_support_agent: bool,
}

impl CreatePersonaRequest {
    /// Validates every field, naming each bad one.
    pub fn try_into_domain(self) -> Result<NewPersona, ApiError> {
        let mut v = Violations::default();
        let name = v.check("name", PersonaName::parse(&self.name));
        let avatar_url = v.check_opt("avatarUrl", self.avatar_url.as_deref(), HttpsUrl::parse);
        let bio = v.check_opt("bio", self.bio.as_deref(), Bio::parse);
        v.finish(|| {
            Some(NewPersona {
                name: name?,
                avatar_url: avatar_url?,
                bio: bio?,
                dm_enabled: self.dm_enabled,
                is_support_agent: self.is_support_agent,
            })
        })
    }
}

/// Changes a persona. Absent fields stay as they are; `null` clears `avatarUrl` or `bio`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"bio": null, "dmEnabled": false, "isActive": true}))]
pub struct UpdatePersonaRequest {
    /// 1..=64 characters, one line.
    #[schema(example = "Coach Mia")]
    pub name: Option<String>,
    /// An `https://` URL, or `null` to remove it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "https://cdn.example.com/mia.png")]
    pub avatar_url: Option<Option<String>>,
    /// Up to 500 characters, or `null` to remove it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub bio: Option<Option<String>>,
    /// Whether users may DM it.
    pub dm_enabled: Option<bool>,
    /// Whether it can be the face of support.
    pub is_support_agent: Option<bool>,
    /// Activate or deactivate.
    #[schema(example = true)]
    pub is_active: Option<bool>,
}

impl UpdatePersonaRequest {
    /// Validates every present field, naming each bad one.
    pub fn try_into_domain(self) -> Result<PersonaPatch, ApiError> {
        let mut v = Violations::default();
        let name = v.check_opt("name", self.name.as_deref(), PersonaName::parse);
        let avatar_url = match &self.avatar_url {
            None => Some(None),
            Some(url) => v.check_opt("avatarUrl", url.as_deref(), HttpsUrl::parse).map(Some),
        };
        let bio = match &self.bio {
            None => Some(None),
            Some(bio) => v.check_opt("bio", bio.as_deref(), Bio::parse).map(Some),
        };
        v.finish(|| {
            Some(PersonaPatch {
                name: name?,
                avatar_url: avatar_url?,
                bio: bio?,
                dm_enabled: self.dm_enabled,
                is_support_agent: self.is_support_agent,
                is_active: self.is_active,
            })
        })
    }
}

/// Examples for the spec: Sam is the face of support, Mia takes DMs.
pub(crate) fn example_admin_persona() -> Value {
    json!({
        "id": 1,
        "name": "Sam from Support",
        "avatarUrl": "https://cdn.example.com/sam.png",
        "bio": "Here to help, every day.",
        "dmEnabled": false,
        "isSupportAgent": true,
        "isActive": true,
        "createdAt": "2026-11-24T08:00:00Z",
        "updatedAt": "2026-11-24T08:00:00Z"
    })
}

fn example_public_persona() -> Value {
    json!({
        "id": 2,
        "name": "Coach Mia",
        "avatarUrl": "https://cdn.example.com/mia.png",
        "bio": "Community coach. Ask me anything."
    })
}

fn example_admin_persona_list() -> Value {
    let mut mia = example_public_persona();
    mia["dmEnabled"] = json!(true);
    mia["isSupportAgent"] = json!(false);
    mia["isActive"] = json!(true);
    mia["createdAt"] = json!("2026-11-24T08:05:00Z");
    mia["updatedAt"] = json!("2026-11-24T08:05:00Z");
    json!({"items": [example_admin_persona(), mia]})
}

fn example_public_persona_list() -> Value {
    json!({"items": [example_public_persona()]})
}

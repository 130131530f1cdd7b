//! The validation rules of request fields, stated in the schema so a generated client
//! (or a fuzzer) can check them before sending: text patterns, URL shapes, exclusive
//! fields. Rules no schema can state (a time in the future, a cursor pair, "not
//! yourself") stay in prose; docs/api-design.md lists them.
//!
//! The patterns read exactly as the domain's parsers do (`chat_domain::values`): a value
//! a pattern admits is never refused for that rule, and a value it refuses is never
//! stored. The unit tests below hold the two against each other.

use chat_domain::values::HttpsUrl;
use serde_json::{Value, json};

/// Text that may span lines (messages, bios, reasons): no control character but tab,
/// line feed and carriage return, and at least one character that is not whitespace
/// (the server trims). Whitespace is Rust's (`char::is_whitespace`), spelled out because
/// ECMA-262's `\s` also counts U+FEFF.
pub const MULTILINE_TEXT: &str = concat!(
    r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*",
    r"[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]",
    r"[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$",
);

/// Text on one line (names, search words): no control character at all, and at least
/// one character that is not whitespace.
pub const ONE_LINE_TEXT: &str = concat!(
    r"^[^\u0000-\u001F\u007F-\u009F]*",
    r"[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]",
    r"[^\u0000-\u001F\u007F-\u009F]*$",
);

/// An `https://` URL of the shape the server accepts (see `HttpsUrl`).
pub const HTTPS_URL: &str = HttpsUrl::PATTERN;

/// Where each rule applies: (schema, property, pattern).
const TEXT_FIELDS: [(&str, &str, &str); 9] = [
    ("SendMessageRequest", "content", MULTILINE_TEXT),
    ("AddNoteRequest", "content", MULTILINE_TEXT),
    ("SupportReplyRequest", "content", MULTILINE_TEXT),
    ("SendNotificationRequest", "content", MULTILINE_TEXT),
    ("HideRequest", "reason", MULTILINE_TEXT),
    ("CreatePersonaRequest", "name", ONE_LINE_TEXT),
    ("CreatePersonaRequest", "bio", MULTILINE_TEXT),
    ("UpdatePersonaRequest", "name", ONE_LINE_TEXT),
    ("UpdatePersonaRequest", "bio", MULTILINE_TEXT),
];

/// Bodies whose `content` is a URL when `messageType` is `image` or `link`.
const TYPED_CONTENT: [&str; 2] = ["SendMessageRequest", "SupportReplyRequest"];

/// Lengths of the text fields (characters; the server counts after trimming).
const LENGTHS: [(&str, &str, usize, usize); 5] = [
    ("HideRequest", "reason", 1, 500),
    ("CreatePersonaRequest", "name", 1, 64),
    ("CreatePersonaRequest", "bio", 1, 500),
    ("UpdatePersonaRequest", "name", 1, 64),
    ("UpdatePersonaRequest", "bio", 1, 500),
];

/// Writes the rules into the document's JSON form: utoipa's types do not model every
/// JSON Schema keyword used here (`if`/`then`, `not`, `allOf` beside `properties`).
pub(crate) fn apply(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    for (schema, property, pattern) in TEXT_FIELDS {
        schemas[schema]["properties"][property]["pattern"] = json!(pattern);
    }
    for (schema, property, min, max) in LENGTHS {
        let field = &mut schemas[schema]["properties"][property];
        field["minLength"] = json!(min);
        field["maxLength"] = json!(max);
    }
    for schema in ["CreatePersonaRequest", "UpdatePersonaRequest"] {
        let avatar = &mut schemas[schema]["properties"]["avatarUrl"];
        avatar["pattern"] = json!(HTTPS_URL);
        avatar["maxLength"] = json!(HttpsUrl::MAX_SENT_CHARS);
    }
    for schema in TYPED_CONTENT {
        // `notification` is a type of stored message, never of a sent one.
        schemas[schema]["properties"]["messageType"] = json!({
            "type": "string", "enum": ["text", "image", "link"], "default": "text",
            "description": "`text` (default), or `image` or `link` with an https URL as `content`.",
        });
        schemas[schema]["allOf"] = json!([{
            "if": {"required": ["messageType"], "properties": {"messageType": {"enum": ["image", "link"]}}},
            "then": {"properties": {"content": {"pattern": HTTPS_URL, "maxLength": HttpsUrl::MAX_SENT_CHARS}}},
        }]);
    }
    // The socket's send frames are read by the same parser as the REST bodies: they
    // state the same rules for `content` and `messageType`.
    let sent = schemas["SendMessageRequest"].clone();
    if let Some(frames) = schemas["ClientFrame"]["oneOf"].as_array_mut() {
        let sends = frames.iter_mut().filter(|f| {
            let properties = &f["properties"];
            properties.get("content").is_some() && properties.get("messageType").is_some()
        });
        for frame in sends {
            for property in ["content", "messageType"] {
                frame["properties"][property] = sent["properties"][property].clone();
            }
            frame["allOf"] = sent["allOf"].clone();
        }
    }
    // The socket's `add-note` is read by the parser of `AddNoteRequest`: the same rules.
    let note = schemas["AddNoteRequest"]["properties"]["content"].clone();
    if let Some(frames) = schemas["ClientFrame"]["oneOf"].as_array_mut() {
        for frame in frames.iter_mut().filter(|f| f["properties"]["type"]["enum"] == json!(["add-note"])) {
            frame["properties"]["content"] = note.clone();
        }
    }
    // A reply speaks as a persona or as the team, not both.
    if let Some(parts) = schemas["SupportReplyRequest"]["allOf"].as_array_mut() {
        parts.push(json!({"not": {
            "required": ["personaId", "asTeam"],
            "properties": {"personaId": {"not": {"type": "null"}}, "asTeam": {"const": true}},
        }}));
    }
    schemas["SendNotificationRequest"]["allOf"] = json!([
        {"oneOf": [
            audience("userId", json!({"type": "integer"})),
            audience("userIds", json!({"type": "array"})),
            audience("allUsers", json!({"const": true})),
        ]},
        // A named template or custom colours, not both.
        {"not": {
            "required": ["template", "notificationStyle"],
            "properties": {"template": {"not": {"type": "null"}}, "notificationStyle": {"not": {"type": "null"}}},
        }},
    ]);
    let user_ids = &mut schemas["SendNotificationRequest"]["properties"]["userIds"];
    user_ids["minItems"] = json!(1);
    user_ids["maxItems"] = json!(10_000);
    schemas["SyncRequest"]["properties"]["positions"]["propertyNames"] = json!({"pattern": "^[0-9]{1,18}$"});
    if let Some(paths) = doc["paths"].as_object_mut() {
        for path in ["/api/user/chat/search", "/api/admin/chat/search"] {
            let Some(parameters) = paths.get_mut(path).and_then(|p| p["get"]["parameters"].as_array_mut()) else {
                continue;
            };
            for parameter in parameters.iter_mut().filter(|p| p["name"] == "q") {
                parameter["schema"] =
                    json!({"type": "string", "minLength": 1, "maxLength": 200, "pattern": ONE_LINE_TEXT});
            }
        }
    }
}

/// One audience of a notice: `field` given (not `null`), the other two absent, `null`
/// or (for `allUsers`) not `true`.
fn audience(field: &str, given: Value) -> Value {
    let mut properties =
        json!({"userId": {"type": "null"}, "userIds": {"type": "null"}, "allUsers": {"not": {"const": true}}});
    properties[field] = given;
    json!({"required": [field], "properties": properties})
}

/// Whether `schema` (a component) exists, for the tests.
#[cfg(test)]
fn has_component(doc: &Value, schema: &str) -> bool {
    doc["components"]["schemas"].get(schema).is_some()
}

#[cfg(test)]
mod tests {
    use chat_domain::values::{Bio, MessageContent, PersonaName};
    use proptest::prelude::*;

    use super::*;

    fn matches(pattern: &str, value: &str) -> bool {
        regex::Regex::new(pattern).expect("pattern compiles").is_match(value)
    }

    #[test]
    fn every_named_schema_exists() {
        let doc = serde_json::to_value(crate::openapi()).expect("spec");
        assert!(doc["components"]["schemas"]["UpdatePersonaRequest"].is_object());
        for (schema, ..) in TEXT_FIELDS {
            assert!(has_component(&doc, schema), "{schema}");
        }
        for schema in TYPED_CONTENT.into_iter().chain(["SendNotificationRequest", "SyncRequest"]) {
            assert!(has_component(&doc, schema), "{schema}");
        }
    }

    #[test]
    fn socket_send_frames_state_the_rest_bodys_rules() {
        let doc = crate::openapi::document(&crate::openapi());
        let frames = doc["components"]["schemas"]["ClientFrame"]["oneOf"].as_array().expect("a union").clone();
        let sends: Vec<&Value> = frames.iter().filter(|f| f["properties"].get("messageType").is_some()).collect();
        assert_eq!(sends.len(), 3, "support-message, support-response, dm-message");
        for frame in sends {
            assert_eq!(frame["properties"]["content"]["pattern"], MULTILINE_TEXT);
            assert_eq!(frame["properties"]["messageType"]["enum"], json!(["text", "image", "link"]));
            assert_eq!(frame["allOf"][0]["then"]["properties"]["content"]["pattern"], HTTPS_URL);
        }
    }

    #[test]
    fn examples_of_both_kinds() {
        for ok in ["Hi!", "  two\nlines\t", "é", "\u{FEFF}x"] {
            assert!(matches(MULTILINE_TEXT, ok), "{ok:?}");
        }
        for bad in ["", " \n\t", "a\u{0}b", "a\u{85}b", "\u{3000}"] {
            assert!(!matches(MULTILINE_TEXT, bad), "{bad:?}");
        }
        assert!(!matches(ONE_LINE_TEXT, "a\nb"));
        for ok in ["https://cdn.example.com/a.png", "https://x", "https://a-b.c:8443/p?q=1&r=%20#f"] {
            assert!(matches(HTTPS_URL, ok), "{ok:?}");
        }
        for bad in ["http://x.com", "https://", "https://1.2.3.999", "https://x.com/a b", "javascript:x"] {
            assert!(!matches(HTTPS_URL, bad), "{bad:?}");
        }
    }

    proptest! {
        /// A value the multi-line pattern admits is accepted as message content and bio
        /// (length aside), and one it refuses is refused.
        #[test]
        fn multiline_pattern_agrees_with_the_parser(raw in "[\\x00-\\x21\\u{7f}-\\u{a1}\\u{2000}-\\u{200b}\\u{feff}a-z]{0,12}") {
            prop_assert_eq!(matches(MULTILINE_TEXT, &raw), MessageContent::parse(&raw).is_ok(), "{:?}", raw);
            prop_assert_eq!(matches(MULTILINE_TEXT, &raw), Bio::parse(&raw).is_ok(), "{:?}", raw);
        }

        #[test]
        fn one_line_pattern_agrees_with_the_parser(raw in "[\\x00-\\x21\\u{7f}-\\u{a1}\\u{3000}a-z]{0,12}") {
            prop_assert_eq!(matches(ONE_LINE_TEXT, &raw), PersonaName::parse(&raw).is_ok(), "{:?}", raw);
        }

        /// Every URL the pattern admits is accepted, and stored no longer than sent (plus
        /// the `/` of an empty path).
        #[test]
        fn urls_the_pattern_admits_are_accepted(raw in concat!(
            r"https://([A-Za-z0-9]{1,8}(-[A-Za-z0-9]{1,8}){0,2}\.){0,3}[A-Za-z][A-Za-z0-9]{0,8}(-[a-z0-9]{1,8}){0,2}(:[0-9]{1,4})?",
            r"(/[A-Za-z0-9._~!$&()*+,;=:@/?#%-]{0,60})?",
        )) {
            prop_assert!(matches(HTTPS_URL, &raw), "the strategy stays inside the pattern: {:?}", raw);
            let parsed = HttpsUrl::parse(&raw);
            prop_assert!(parsed.is_ok(), "{:?}: {:?}", raw, parsed);
            let stored = parsed.expect("checked").into_inner();
            prop_assert!(stored.chars().count() <= raw.chars().count() + 1, "{:?} stored as {:?}", raw, stored);
        }
    }
}

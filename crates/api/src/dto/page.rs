//! One page of a keyset-paged list: [`Page<T>`], the body of every list route.
//!
//! On the wire a page is `{"items": [...], "nextCursor": <cursor> | null}`. What differs
//! between lists is said once, by the item type, in [`PageItem`]: the cursor's type, the
//! name of its page in the OpenAPI document, the list's order, how to ask for the next
//! page, and an example.
//!
//! The document names each page after its list (`MessagePage`, `SupportQueuePage`,
//! ...), the names generated clients have always had. utoipa's derive on a generic type
//! would name the instantiations after their arguments (`Page_Message`), renaming
//! every page type in the clients; so [`Page`] writes its schema itself, one generic
//! implementation for every list, under the name its item gives. Routes name a page
//! by its alias ([`MessagePage`](super::messages::MessagePage), ...) in their
//! annotations: utoipa reads an alias as a plain type and asks it for its name.

use std::borrow::Cow;

use chat_domain::MessageId;
use chat_domain::conversations;
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// How a list's page reads in the OpenAPI document.
#[derive(Debug, Clone, Copy)]
pub struct PageDoc {
    /// The page's component name (stable: generated clients name their types after it).
    pub name: &'static str,
    /// What the page is.
    pub description: &'static str,
    /// The order of `items`.
    pub order: &'static str,
    /// How to ask for the next page with `nextCursor`.
    pub next: &'static str,
}

impl PageDoc {
    /// The documentation of a page named `name`.
    pub const fn new(name: &'static str, description: &'static str, order: &'static str, next: &'static str) -> Self {
        Self { name, description, order, next }
    }
}

/// An item of a paged list: what its [`Page`] needs to know.
pub trait PageItem: ToSchema + Serialize {
    /// The type of `nextCursor` (a message id, a member id, an opaque string).
    type Cursor: Serialize + PartialSchema;
    /// The page's documentation.
    const PAGE: PageDoc;
    /// A page of this list, for the spec (every success body has an example; the
    /// openapi test checks it against the schema).
    fn example_page() -> Value;
}

/// One page of a list, and where the next one starts.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T: PageItem> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Pass back (as the route says: `before`, `after` or `cursor`) for the next page;
    /// `null` on the last.
    pub next_cursor: Option<T::Cursor>,
}

impl<T: PageItem> Page<T> {
    /// A page of `items` (converted into their view) followed by `next_cursor`.
    pub fn of<D>(items: impl IntoIterator<Item = D>, next_cursor: Option<T::Cursor>) -> Self
    where
        T: From<D>,
    {
        Self { items: items.into_iter().map(T::from).collect(), next_cursor }
    }
}

/// A history page of the domain (the cursor is a message id).
impl<D, T: PageItem<Cursor = i64> + From<D>> From<conversations::Page<D>> for Page<T> {
    fn from(page: conversations::Page<D>) -> Self {
        Self::of(page.items, page.next_cursor.map(MessageId::get))
    }
}

impl<T: PageItem> PartialSchema for Page<T> {
    fn schema() -> RefOr<Schema> {
        let doc = T::PAGE;
        let example = T::example_page();
        let mut cursor = T::Cursor::schema();
        if let RefOr::T(Schema::Object(object)) = &mut cursor {
            object.schema_type = match &object.schema_type {
                SchemaType::Type(ty) => SchemaType::Array(vec![ty.clone(), Type::Null]),
                other => other.clone(),
            };
            object.description = Some(doc.next.to_owned());
            object.example = example.get("nextCursor").filter(|c| !c.is_null()).cloned();
        }
        let items = ArrayBuilder::new().items(Ref::from_schema_name(T::name())).description(Some(doc.order));
        let mut page = ObjectBuilder::new()
            .description(Some(doc.description))
            .property("items", items)
            .required("items")
            .property("nextCursor", cursor)
            .build();
        page.example = Some(example);
        RefOr::T(Schema::Object(page))
    }
}

impl<T: PageItem> ToSchema for Page<T> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed(T::PAGE.name)
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::dto::messages::{Message, MessagePage};

    #[test]
    fn a_page_keeps_its_wire_shape_and_its_name() {
        let empty: MessagePage = Page { items: Vec::<Message>::new(), next_cursor: None };
        assert_eq!(serde_json::to_value(&empty).unwrap(), json!({"items": [], "nextCursor": null}));
        assert_eq!(MessagePage::name(), "MessagePage");
        let schema = serde_json::to_value(MessagePage::schema()).unwrap();
        assert_eq!(schema["properties"]["items"]["items"]["$ref"], "#/components/schemas/Message");
        assert_eq!(schema["properties"]["nextCursor"]["type"], json!(["integer", "null"]));
        assert_eq!(schema["required"], json!(["items"]));
    }
}

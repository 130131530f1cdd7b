//! Route registration: one module per bounded context, one handler per endpoint.

mod blocks;
mod chat_list;
mod direct_messages;
mod direct_messages_admin;
mod group_members;
mod groups;
mod health;
mod moderation;
mod notes_admin;
mod notifications_admin;
mod personas;
mod realtime;
mod search;
mod stats_admin;
mod support;
mod support_admin;
mod webhooks_admin;

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

/// Registers every documented route.
pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(health::healthz).service(health::readyz);
    cfg.service(
        scope("/api/admin/chat")
            .configure(personas::configure_admin)
            .configure(support_admin::configure)
            .configure(direct_messages_admin::configure_admin)
            .configure(moderation::configure)
            .configure(search::configure_admin)
            .configure(notifications_admin::configure)
            .configure(notes_admin::configure)
            .configure(webhooks_admin::configure)
            .configure(stats_admin::configure),
    );
    cfg.service(scope("/api/chat").configure(realtime::configure_socket));
    cfg.service(
        scope("/api/user/chat")
            .configure(personas::configure_user)
            .configure(support::configure)
            .configure(direct_messages::configure)
            .configure(blocks::configure)
            .configure(search::configure_user)
            .configure(realtime::configure_user)
            .configure(groups::configure)
            .configure(group_members::configure)
            .configure(chat_list::configure),
    );
}

/// The answer to a get-or-create or an idempotent send: 201 with `body` when this request
/// created it, 200 with the same body when it already existed (a retry, a second start).
fn created_or_ok(created: bool, body: impl Serialize) -> HttpResponse {
    if created { HttpResponse::Created().json(body) } else { HttpResponse::Ok().json(body) }
}

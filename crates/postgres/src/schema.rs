// @generated automatically by Diesel CLI.

pub mod sql_types {
    #[derive(diesel::query_builder::QueryId, Clone, Debug, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "tsvector", schema = "pg_catalog"))]
    pub struct Tsvector;
}

diesel::table! {
    chat_admin_access_log (id) {
        id -> Int8,
        admin_id -> Int4,
        conversation_id -> Int8,
        #[max_length = 20]
        action -> Varchar,
        accessed_at -> Timestamptz,
    }
}

diesel::table! {
    chat_fake_users (id) {
        id -> Int4,
        #[max_length = 64]
        name -> Varchar,
        avatar_url -> Nullable<Text>,
        bio -> Nullable<Text>,
        dm_enabled -> Bool,
        is_support_agent -> Bool,
        is_active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    chat_group_members (group_id, user_id) {
        group_id -> Int4,
        user_id -> Int4,
        joined_at -> Timestamptz,
    }
}

diesel::table! {
    chat_group_reads (group_id, user_id) {
        group_id -> Int4,
        user_id -> Int4,
        last_read_message_id -> Int8,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    chat_groups (id) {
        id -> Int4,
        #[max_length = 128]
        name -> Varchar,
        #[max_length = 20]
        kind -> Varchar,
        owner_user_id -> Nullable<Int4>,
        avatar_url -> Nullable<Text>,
        is_active -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    chat_internal_notes (id) {
        id -> Int8,
        conversation_id -> Int8,
        author_admin_id -> Int4,
        content -> Text,
        client_note_id -> Nullable<Uuid>,
        after_seq -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    chat_legacy_baseline (table_name) {
        table_name -> Text,
    }
}

diesel::table! {
    chat_legacy_support_cohort_archive (id) {
        id -> Int8,
        source -> Text,
        row_data -> Jsonb,
        user_id -> Nullable<Int4>,
        archived_at -> Timestamptz,
    }
}

diesel::table! {
    chat_messages (id) {
        id -> Int4,
        group_id -> Int4,
        sender_id -> Nullable<Int4>,
        #[max_length = 20]
        sender_type -> Varchar,
        content -> Text,
        #[max_length = 20]
        message_type -> Varchar,
        support_conversation_user_id -> Nullable<Int4>,
        created_at -> Timestamptz,
        is_active -> Bool,
        is_notification -> Bool,
        notification_style -> Jsonb,
        notification_id -> Nullable<Int8>,
    }
}

diesel::table! {
    chat_notice_deliveries (notification_id) {
        notification_id -> Int8,
        online_deliveries -> Int8,
        last_online_delivery_at -> Timestamptz,
    }
}

diesel::table! {
    chat_notifications (id) {
        id -> Int8,
        created_by_admin_id -> Int4,
        #[max_length = 10]
        audience -> Varchar,
        target_user_id -> Nullable<Int4>,
        content -> Text,
        #[max_length = 20]
        template -> Nullable<Varchar>,
        style -> Jsonb,
        expires_at -> Nullable<Timestamptz>,
        retracted_at -> Nullable<Timestamptz>,
        retracted_by_admin_id -> Nullable<Int4>,
        client_notification_id -> Nullable<Uuid>,
        recipient_count -> Int4,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    chat_stats_dm_buckets (bucket_start, bucket_end, persona_id) {
        bucket_start -> Timestamptz,
        bucket_end -> Timestamptz,
        persona_id -> Int4,
        new_user_dms -> Int8,
        new_persona_dms -> Int8,
        active_users -> Int8,
        user_to_user -> Int8,
        user_to_persona -> Int8,
        persona_to_user -> Int8,
        computed_at -> Timestamptz,
    }
}

diesel::table! {
    chat_stats_support_buckets (bucket_start, bucket_end, hours_utc) {
        bucket_start -> Timestamptz,
        bucket_end -> Timestamptz,
        opened -> Int8,
        reopened -> Int8,
        resolved -> Int8,
        responded -> Int8,
        fr50 -> Nullable<Float8>,
        fr90 -> Nullable<Float8>,
        res50 -> Nullable<Float8>,
        res90 -> Nullable<Float8>,
        computed_at -> Timestamptz,
        #[max_length = 11]
        hours_utc -> Varchar,
    }
}

diesel::table! {
    chat_stats_support_group_buckets (bucket_start, bucket_end, grouped_by, hours_utc, group_kind, group_id) {
        bucket_start -> Timestamptz,
        bucket_end -> Timestamptz,
        #[max_length = 10]
        grouped_by -> Varchar,
        #[max_length = 10]
        group_kind -> Varchar,
        group_id -> Int4,
        opened -> Int8,
        reopened -> Int8,
        resolved -> Int8,
        responded -> Int8,
        fr50 -> Nullable<Float8>,
        fr90 -> Nullable<Float8>,
        res50 -> Nullable<Float8>,
        res90 -> Nullable<Float8>,
        moved_in -> Int8,
        moved_out -> Int8,
        #[max_length = 11]
        hours_utc -> Varchar,
    }
}

diesel::table! {
    chat_stats_support_grouped (bucket_start, bucket_end, grouped_by, hours_utc) {
        bucket_start -> Timestamptz,
        bucket_end -> Timestamptz,
        #[max_length = 10]
        grouped_by -> Varchar,
        computed_at -> Timestamptz,
        #[max_length = 11]
        hours_utc -> Varchar,
    }
}

diesel::table! {
    chat_support_episodes (id) {
        id -> Int8,
        conversation_id -> Int8,
        started_at -> Timestamptz,
        reopened -> Bool,
        first_response_at -> Nullable<Timestamptz>,
        #[max_length = 10]
        first_response_voice -> Nullable<Varchar>,
        first_response_persona_id -> Nullable<Int4>,
        resolved_at -> Nullable<Timestamptz>,
        assignee_admin_id -> Nullable<Int4>,
        opened_assignee_id -> Nullable<Int4>,
        responded_assignee_id -> Nullable<Int4>,
    }
}

diesel::table! {
    chat_support_migration_batches (id) {
        id -> Int8,
        started_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
        verified_at -> Nullable<Timestamptz>,
        verified_max_message_id -> Nullable<Int4>,
        rolled_back_at -> Nullable<Timestamptz>,
        users_migrated -> Int4,
        messages_migrated -> Int8,
        conversations_created -> Int4,
        messages_unmovable -> Int8,
        checksum -> Nullable<Text>,
        deactivated_group_ids -> Array<Nullable<Int4>>,
        options -> Jsonb,
    }
}

diesel::table! {
    chat_support_migration_conversations (batch_id, conversation_id) {
        batch_id -> Int8,
        conversation_id -> Int8,
        user_id -> Int4,
        created -> Bool,
        previous -> Nullable<Jsonb>,
    }
}

diesel::table! {
    chat_support_migration_rows (message_id) {
        message_id -> Int4,
        user_id -> Nullable<Int4>,
        dm_message_id -> Nullable<Int8>,
        reason -> Nullable<Text>,
        row_md5 -> Text,
        verified_at -> Timestamptz,
    }
}

diesel::table! {
    chat_support_reassignments (id) {
        id -> Int8,
        episode_id -> Int8,
        moved_at -> Timestamptz,
        from_admin_id -> Nullable<Int4>,
        to_admin_id -> Nullable<Int4>,
    }
}

diesel::table! {
    chat_support_users (user_id) {
        user_id -> Int4,
        batch_id -> Int8,
        migrated_at -> Timestamptz,
    }
}

diesel::table! {
    chat_user_blocks (blocker_id, blocked_id) {
        blocker_id -> Int4,
        blocked_id -> Int4,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    chat_webhook_collector (singleton) {
        singleton -> Bool,
        last_window -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    chat_webhook_deliveries (id) {
        id -> Int8,
        event_id -> Uuid,
        user_id -> Int4,
        window_start -> Timestamptz,
        payload -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        delivered_at -> Nullable<Timestamptz>,
        parked_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    chat_webhook_outbox (id) {
        id -> Int8,
        dm_message_id -> Nullable<Int8>,
        chat_message_id -> Nullable<Int4>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    direct_messages (id) {
        id -> Int8,
        #[max_length = 20]
        conversation_type -> Varchar,
        user1_id -> Int4,
        user2_id -> Nullable<Int4>,
        #[max_length = 20]
        user2_type -> Varchar,
        fake_user_id -> Nullable<Int4>,
        #[max_length = 20]
        support_status -> Nullable<Varchar>,
        assignee_admin_id -> Nullable<Int4>,
        waiting_since -> Nullable<Timestamptz>,
        user1_last_read_id -> Int8,
        user1_unread -> Int4,
        user2_last_read_id -> Int8,
        user2_unread -> Int4,
        user1_archived_at -> Nullable<Timestamptz>,
        user2_archived_at -> Nullable<Timestamptz>,
        last_message_id -> Nullable<Int8>,
        last_seq -> Int8,
        last_message_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        is_active -> Bool,
        user1_unarchived_at -> Nullable<Timestamptz>,
        user2_unarchived_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Tsvector;

    dm_messages (id) {
        id -> Int8,
        conversation_id -> Int8,
        seq -> Int8,
        sender_id -> Int4,
        #[max_length = 20]
        sender_type -> Varchar,
        acting_admin_id -> Nullable<Int4>,
        content -> Text,
        #[max_length = 20]
        message_type -> Varchar,
        is_notification -> Bool,
        client_message_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        is_active -> Bool,
        hidden_at -> Nullable<Timestamptz>,
        hidden_by_admin_id -> Nullable<Int4>,
        hidden_reason -> Nullable<Text>,
        content_tsv -> Nullable<Tsvector>,
        legacy_message_id -> Nullable<Int4>,
        legacy_batch_id -> Nullable<Int8>,
    }
}

diesel::table! {
    users (id) {
        id -> Int4,
        #[max_length = 64]
        username -> Varchar,
        #[max_length = 128]
        display_name -> Varchar,
        #[max_length = 255]
        email -> Nullable<Varchar>,
        profile_photo_url -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(chat_admin_access_log -> direct_messages (conversation_id));
diesel::joinable!(chat_admin_access_log -> users (admin_id));
diesel::joinable!(chat_group_members -> chat_groups (group_id));
diesel::joinable!(chat_group_members -> users (user_id));
diesel::joinable!(chat_group_reads -> chat_groups (group_id));
diesel::joinable!(chat_group_reads -> users (user_id));
diesel::joinable!(chat_groups -> users (owner_user_id));
diesel::joinable!(chat_internal_notes -> direct_messages (conversation_id));
diesel::joinable!(chat_internal_notes -> users (author_admin_id));
diesel::joinable!(chat_messages -> chat_groups (group_id));
diesel::joinable!(chat_messages -> chat_notifications (notification_id));
diesel::joinable!(chat_notice_deliveries -> chat_notifications (notification_id));
diesel::joinable!(chat_support_episodes -> chat_fake_users (first_response_persona_id));
diesel::joinable!(chat_support_episodes -> direct_messages (conversation_id));
diesel::joinable!(chat_support_episodes -> users (assignee_admin_id));
diesel::joinable!(chat_support_migration_conversations -> chat_support_migration_batches (batch_id));
diesel::joinable!(chat_support_reassignments -> chat_support_episodes (episode_id));
diesel::joinable!(chat_support_users -> chat_support_migration_batches (batch_id));
diesel::joinable!(direct_messages -> chat_fake_users (fake_user_id));
diesel::joinable!(dm_messages -> direct_messages (conversation_id));

diesel::allow_tables_to_appear_in_same_query!(
    chat_admin_access_log,
    chat_fake_users,
    chat_group_members,
    chat_group_reads,
    chat_groups,
    chat_internal_notes,
    chat_legacy_baseline,
    chat_legacy_support_cohort_archive,
    chat_messages,
    chat_notice_deliveries,
    chat_notifications,
    chat_stats_dm_buckets,
    chat_stats_support_buckets,
    chat_stats_support_group_buckets,
    chat_stats_support_grouped,
    chat_support_episodes,
    chat_support_migration_batches,
    chat_support_migration_conversations,
    chat_support_migration_rows,
    chat_support_reassignments,
    chat_support_users,
    chat_user_blocks,
    chat_webhook_collector,
    chat_webhook_deliveries,
    chat_webhook_outbox,
    direct_messages,
    dm_messages,
    users,
);

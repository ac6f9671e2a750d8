//! The audit log's vocabulary: what happened (an [`EventType`]) and who made it happen.

use serde::{Deserialize, Serialize};

use super::ids::AccessKeyId;
use super::number::str_enum;

str_enum!(
    /// Every kind of event numberd records.
    EventType {
        NumberRegistered = "number.registered",
        NumberPurchased = "number.purchased",
        NumberUpdated = "number.updated",
        SubscriptionCanceled = "subscription.canceled",
        SubscriptionResumed = "subscription.resumed",
        SubscriptionRenewed = "subscription.renewed",
        NumberReleaseScheduled = "number.release_scheduled",
        NumberReleased = "number.released",
        NumberCarrierReleaseConfirmed = "number.carrier_release_confirmed",
        NumberCarrierReleaseFailed = "number.carrier_release_failed",
        CallerIdVerified = "caller_id.verified",
        OrderCompleted = "order.completed",
        OrderFailed = "order.failed",
        AccessKeyCreated = "access_key.created",
        AccessKeyRevoked = "access_key.revoked",
        WebhookDisabled = "webhook.disabled",
    }
);

/// Who caused an event: an access key of the workspace, or numberd itself (`worker` for period
/// ends and background jobs, `cli` for the operator's command line).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum EventActor {
    AccessKey { id: AccessKeyId },
    System { name: String },
}

impl EventActor {
    pub fn worker() -> Self {
        EventActor::System { name: "worker".into() }
    }

    pub fn cli() -> Self {
        EventActor::System { name: "cli".into() }
    }

    /// The stored pair: `("accessKey", key id)` or `("system", name)`.
    pub fn columns(&self) -> (&'static str, String) {
        match self {
            EventActor::AccessKey { id } => ("accessKey", id.to_string()),
            EventActor::System { name } => ("system", name.clone()),
        }
    }

    pub fn from_columns(kind: &str, id: &str) -> Option<Self> {
        match kind {
            "accessKey" => id.parse().ok().map(|id| EventActor::AccessKey { id }),
            "system" => Some(EventActor::System { name: id.to_owned() }),
            _ => None,
        }
    }
}

/// One entry of the audit log, exactly as the API lists it and as webhooks deliver it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Delivered as `webhook-id`: the same on every retry.
    #[schema(value_type = uuid::Uuid)]
    pub id: uuid::Uuid,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// By the workspace's clock (a test clock's time in test mode).
    #[serde(serialize_with = "super::clock::json::ts")]
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = uuid::Uuid)]
    pub workspace_id: super::ids::WorkspaceId,
    #[schema(value_type = Object)]
    pub actor: EventActor,
    /// The `x-request-id` of the API request that caused it; absent for background work.
    pub request_id: Option<String>,
    /// The affected `Number` as the API shows it after the change, or the resource concerned.
    // Kept as the JSON text it is stored and delivered as: building a tree of values first cost
    // a sweep more than writing the text.
    #[schema(value_type = Object)]
    pub data: Box<serde_json::value::RawValue>,
    /// The number it concerns, for filtering and per-number delivery order.
    #[serde(skip)]
    pub number_id: Option<super::ids::NumberId>,
    /// Position in the log (keyset pagination); 0 until stored.
    #[serde(skip)]
    pub seq: i64,
}

impl Event {
    pub fn new(
        event_type: EventType,
        workspace_id: super::ids::WorkspaceId,
        occurred_at: chrono::DateTime<chrono::Utc>,
        actor: EventActor,
    ) -> Self {
        Event {
            id: super::ids::time_ordered(),
            event_type,
            occurred_at,
            workspace_id,
            actor,
            request_id: None,
            data: serde_json::value::to_raw_value(&()).expect("null is JSON"),
            number_id: None,
            seq: 0,
        }
    }
}

/// Filters of `GET /events`; `after`/`before` bound `occurredAt` (exclusive).
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub event_type: Option<EventType>,
    pub number_id: Option<super::ids::NumberId>,
    pub after: Option<chrono::DateTime<chrono::Utc>>,
    pub before: Option<chrono::DateTime<chrono::Utc>>,
}

/// A workspace's webhook endpoint as stored, secrets included.
#[derive(Clone, Debug, PartialEq)]
pub struct Webhook {
    pub seq: i64,
    pub id: uuid::Uuid,
    pub workspace_id: super::ids::WorkspaceId,
    pub url: String,
    pub description: Option<String>,
    /// Event type names, or `["*"]` for all.
    pub events: Vec<String>,
    /// `whsec_` + base64 of the key.
    pub secret: String,
    /// The secret before the last rotation, still signing until `previous_secret_until`.
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<chrono::DateTime<chrono::Utc>>,
    pub enabled: bool,
    pub failing_since: Option<chrono::DateTime<chrono::Utc>>,
    pub disabled_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl Webhook {
    pub fn subscribes_to(&self, t: EventType) -> bool {
        self.events.iter().any(|e| e == "*" || e == t.as_str())
    }

    /// The secrets that sign a delivery made at `now`: the current one, and during the 24 hours
    /// after a rotation the previous one too.
    pub fn signing_secrets(&self, now: chrono::DateTime<chrono::Utc>) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let (Some(old), Some(until)) = (&self.previous_secret, self.previous_secret_until) {
            if now < until {
                secrets.push(old);
            }
        }
        secrets
    }
}

str_enum!(
    /// Where a delivery stands: `waiting` behind an older delivery of the same number to the same
    /// endpoint, `pending` (queued or retrying), `delivered` (a 2xx answer) or `failed`.
    DeliveryStatus { Waiting = "waiting", Pending = "pending", Delivered = "delivered", Failed = "failed" }
);

/// One event on its way to one endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub seq: i64,
    pub id: uuid::Uuid,
    pub webhook_id: uuid::Uuid,
    pub workspace_id: super::ids::WorkspaceId,
    pub event_id: uuid::Uuid,
    pub number_id: Option<super::ids::NumberId>,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub response_status: Option<i64>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

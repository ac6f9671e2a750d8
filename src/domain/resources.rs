//! The resources a number serves: assistants, campaigns (with an ordered rotation) and call
//! records, and how lists of them are sliced.

use chrono::{DateTime, Utc};

use super::ids::{AssistantId, CallId, CampaignId, NumberId, WorkspaceId};

text_enum!(
    /// Which way an assistant or a call goes.
    Direction { Inbound = "inbound", Outbound = "outbound" }
);

text_enum!(CampaignStatus { Draft = "draft", InProgress = "in_progress", Paused = "paused", Completed = "completed" });

text_enum!(CallStatus {
    Queued = "queued",
    Ringing = "ringing",
    InProgress = "in_progress",
    Completed = "completed",
    Busy = "busy",
    NoAnswer = "no_answer",
    Failed = "failed",
    Canceled = "canceled",
});

#[derive(Clone, Debug, PartialEq)]
pub struct Assistant {
    pub seq: i64,
    pub id: AssistantId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    /// `inbound` answers calls to its number; `outbound` places calls from it.
    pub direction: Direction,
    pub number_id: Option<NumberId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A resource by uuid (native API) or integer id (Autocalls dialect).
pub enum Key<U> {
    Id(U),
    Seq(i64),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Campaign {
    pub seq: i64,
    pub id: CampaignId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub status: CampaignStatus,
    /// The rotation, in order; only numbers still in the workspace.
    pub number_ids: Vec<NumberId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub seq: i64,
    pub id: CallId,
    pub workspace_id: WorkspaceId,
    pub direction: Direction,
    pub from_e164: String,
    pub to_e164: String,
    pub number_id: Option<NumberId>,
    /// The workspace number's E.164 as it was at call time; kept after the number goes.
    pub number_e164: Option<String>,
    pub assistant_id: Option<AssistantId>,
    pub campaign_id: Option<CampaignId>,
    pub status: CallStatus,
    pub started_at: DateTime<Utc>,
    pub duration_seconds: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default)]
pub struct CallFilter {
    pub status: Option<String>,
    pub direction: Option<String>,
    pub number_id: Option<NumberId>,
    /// Matches the workspace number or the other party.
    pub phone_number: Option<String>,
    pub assistant_id: Option<AssistantId>,
    pub campaign_id: Option<CampaignId>,
    pub started_from: Option<DateTime<Utc>>,
    pub started_before: Option<DateTime<Utc>>,
}

/// Which slice of a list: keyset (native API) or page offset (Autocalls' Laravel paginator).
#[derive(Clone, Copy, Debug)]
pub enum Page {
    After { seq: Option<i64>, limit: i64 },
    Offset { offset: i64, limit: i64 },
}

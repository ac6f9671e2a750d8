//! Assistants, campaigns and calls: the rules both API dialects share.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::{Core, Tenant};
use crate::domain::ids::{AssistantId, CallId, CampaignId, NumberId};
use crate::domain::number::{NumberKind, NumberStatus};
use crate::domain::phone::E164;
use crate::error::{Error, Result};
use crate::store::numbers::{self, NumberRecord};
use crate::store::resources::{self as store, Assistant, Call, CallFilter, Campaign, Key, Page};
use crate::store::is_unique_violation;

pub const NAME_MAX: usize = 255;
pub const DIRECTIONS: &[&str] = &["inbound", "outbound"];
pub const CAMPAIGN_STATUSES: &[&str] = &["draft", "in_progress", "paused", "completed"];
pub const CALL_STATUSES: &[&str] = &["queued", "ringing", "in_progress", "completed", "busy", "no_answer", "failed", "canceled"];

/// A number reference as each dialect gives it.
#[derive(Clone, Copy, Debug)]
pub enum NumberRef {
    Id(NumberId),
    Seq(i64),
}

pub fn validate_name(field: &str, name: &str) -> Result<String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(Error::invalid_field(field, "must not be empty"));
    }
    if trimmed.chars().count() > NAME_MAX {
        return Err(Error::invalid_field(field, format!("must be at most {NAME_MAX} characters")));
    }
    Ok(trimmed.to_owned())
}

pub fn validate_one_of(field: &str, value: &str, allowed: &[&str]) -> Result<String> {
    if allowed.contains(&value) {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid_field(field, format!("must be one of: {}", allowed.join(", "))))
    }
}

/// Fields of an assistant to change; `None` leaves one as it is.
#[derive(Default)]
pub struct AssistantChange {
    pub name: Option<String>,
    pub direction: Option<String>,
    pub number: Option<Option<NumberRef>>,
}

impl Core {
    /// A live number of the workspace, for attaching to something.
    async fn live_number(&self, conn: &mut AnyConnection, tenant: Tenant, field: &str, r: NumberRef) -> Result<NumberRecord> {
        let rec = match r {
            NumberRef::Id(id) => numbers::get(conn, tenant.id, id, "").await?,
            NumberRef::Seq(seq) => numbers::get_by_seq(conn, tenant.id, seq, "").await?,
        };
        match rec {
            Some(n) if n.deleted_at.is_none() && n.status == NumberStatus::Active => Ok(n),
            _ => Err(Error::invalid_field(field, "is not a phone number in this workspace")),
        }
    }

    async fn check_assignment(
        &self,
        conn: &mut AnyConnection,
        tenant: Tenant,
        field: &str,
        direction: &str,
        number: NumberRef,
        assistant: Option<AssistantId>,
    ) -> Result<NumberId> {
        let n = self.live_number(conn, tenant, field, number).await?;
        if direction == "inbound" {
            if n.kind == NumberKind::CallerId {
                return Err(Error::invalid_field(field, "is a verified caller ID, which cannot receive calls"));
            }
            if let Some(other) = store::inbound_assistant_of(conn, n.id).await? {
                if Some(other) != assistant {
                    return Err(number_taken(field));
                }
            }
        }
        Ok(n.id)
    }

    pub async fn create_assistant(&self, tenant: Tenant, name: &str, direction: &str, number: Option<NumberRef>) -> Result<Assistant> {
        let name = validate_name("name", name)?;
        let direction = validate_one_of("direction", direction, DIRECTIONS)?;
        let mut tx = self.db.begin_write().await?;
        let now = self.now(&mut tx, tenant).await?;
        let number_id = match number {
            Some(r) => Some(self.check_assignment(&mut tx, tenant, "number", &direction, r, None).await?),
            None => None,
        };
        let a = Assistant {
            seq: 0,
            id: AssistantId::new(),
            workspace_id: tenant.id,
            name,
            direction,
            number_id,
            created_at: now,
            updated_at: now,
        };
        let a = store::insert_assistant(&mut tx, &a).await.map_err(|e| taken_or(e, "number"))?;
        tx.commit().await?;
        Ok(a)
    }

    pub async fn get_assistant(&self, tenant: Tenant, key: Key<AssistantId>) -> Result<Assistant> {
        let mut conn = self.db.pool.acquire().await?;
        store::get_assistant(&mut conn, tenant.id, &key).await?.ok_or_else(assistant_not_found)
    }

    pub async fn update_assistant(&self, tenant: Tenant, key: Key<AssistantId>, change: AssistantChange) -> Result<Assistant> {
        let mut tx = self.db.begin_write().await?;
        let now = self.now(&mut tx, tenant).await?;
        let mut a = store::get_assistant(&mut tx, tenant.id, &key).await?.ok_or_else(assistant_not_found)?;
        if let Some(name) = change.name {
            a.name = validate_name("name", &name)?;
        }
        if let Some(direction) = change.direction {
            a.direction = validate_one_of("direction", &direction, DIRECTIONS)?;
        }
        match change.number {
            Some(Some(r)) => a.number_id = Some(self.check_assignment(&mut tx, tenant, "number", &a.direction, r, Some(a.id)).await?),
            Some(None) => a.number_id = None,
            // A direction change must still respect the rules for the number it keeps.
            None => {
                if let Some(n) = a.number_id {
                    self.check_assignment(&mut tx, tenant, "number", &a.direction, NumberRef::Id(n), Some(a.id)).await?;
                }
            }
        }
        a.updated_at = now;
        store::update_assistant(&mut tx, &a).await.map_err(|e| taken_or(e, "number"))?;
        tx.commit().await?;
        Ok(a)
    }

    pub async fn delete_assistant(&self, tenant: Tenant, key: Key<AssistantId>) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let a = store::get_assistant(&mut tx, tenant.id, &key).await?.ok_or_else(assistant_not_found)?;
        store::delete_assistant(&mut tx, a.id).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_assistants(&self, tenant: Tenant, page: Page) -> Result<Vec<Assistant>> {
        Ok(store::list_assistants(&self.db, tenant.id, page).await?)
    }

    async fn rotation(&self, conn: &mut AnyConnection, tenant: Tenant, refs: &[NumberRef]) -> Result<Vec<NumberId>> {
        let mut ids = Vec::with_capacity(refs.len());
        let mut seen = HashSet::new();
        for (i, r) in refs.iter().enumerate() {
            let field = format!("numbers.{i}");
            let n = self.live_number(conn, tenant, &field, *r).await?;
            if !seen.insert(n.id) {
                return Err(Error::invalid_field(&field, "appears more than once in the rotation"));
            }
            ids.push(n.id);
        }
        Ok(ids)
    }

    pub async fn create_campaign(&self, tenant: Tenant, name: &str, numbers: &[NumberRef]) -> Result<Campaign> {
        let name = validate_name("name", name)?;
        let mut tx = self.db.begin_write().await?;
        let now = self.now(&mut tx, tenant).await?;
        let number_ids = self.rotation(&mut tx, tenant, numbers).await?;
        let c = Campaign {
            seq: 0,
            id: CampaignId::new(),
            workspace_id: tenant.id,
            name,
            status: "draft".into(),
            number_ids,
            created_at: now,
            updated_at: now,
        };
        let c = store::insert_campaign(&mut tx, &c).await?;
        tx.commit().await?;
        Ok(c)
    }

    pub async fn get_campaign(&self, tenant: Tenant, key: Key<CampaignId>) -> Result<Campaign> {
        let mut conn = self.db.pool.acquire().await?;
        store::get_campaign(&mut conn, tenant.id, &key).await?.ok_or_else(campaign_not_found)
    }

    /// Changes name, status and/or rotation.
    pub async fn update_campaign(
        &self,
        tenant: Tenant,
        key: Key<CampaignId>,
        name: Option<&str>,
        status: Option<&str>,
        numbers: Option<&[NumberRef]>,
    ) -> Result<Campaign> {
        let mut tx = self.db.begin_write().await?;
        let now = self.now(&mut tx, tenant).await?;
        let mut c = store::get_campaign(&mut tx, tenant.id, &key).await?.ok_or_else(campaign_not_found)?;
        if let Some(name) = name {
            c.name = validate_name("name", name)?;
        }
        if let Some(status) = status {
            c.status = validate_one_of("status", status, CAMPAIGN_STATUSES)?;
        }
        if let Some(refs) = numbers {
            c.number_ids = self.rotation(&mut tx, tenant, refs).await?;
            store::set_rotation(&mut tx, c.id, &c.number_ids).await?;
        }
        c.updated_at = now;
        store::update_campaign(&mut tx, &c).await?;
        tx.commit().await?;
        Ok(c)
    }

    pub async fn list_campaigns(&self, tenant: Tenant, page: Page) -> Result<Vec<Campaign>> {
        Ok(store::list_campaigns(&self.db, tenant.id, page).await?)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn record_call(
        &self,
        tenant: Tenant,
        direction: &str,
        from: &str,
        to: &str,
        number: Option<NumberRef>,
        assistant: Option<AssistantId>,
        campaign: Option<CampaignId>,
        status: &str,
        started_at: Option<DateTime<Utc>>,
        duration_seconds: i64,
    ) -> Result<Call> {
        let direction = validate_one_of("direction", direction, DIRECTIONS)?;
        let status = validate_one_of("status", status, CALL_STATUSES)?;
        let from = E164::parse(from, None).map_err(|e| Error::invalid_field("from", e.to_string()))?;
        let to = E164::parse(to, None).map_err(|e| Error::invalid_field("to", e.to_string()))?;
        if duration_seconds < 0 {
            return Err(Error::invalid_field("durationSeconds", "must not be negative"));
        }
        let mut tx = self.db.begin_write().await?;
        let now = self.now(&mut tx, tenant).await?;
        let number = match number {
            Some(r) => Some(self.live_number(&mut tx, tenant, "numberId", r).await?),
            None => None,
        };
        if let Some(a) = assistant {
            store::get_assistant(&mut tx, tenant.id, &Key::Id(a))
                .await?
                .ok_or_else(|| Error::invalid_field("assistantId", "is not an assistant in this workspace"))?;
        }
        if let Some(c) = campaign {
            store::get_campaign(&mut tx, tenant.id, &Key::Id(c))
                .await?
                .ok_or_else(|| Error::invalid_field("campaignId", "is not a campaign in this workspace"))?;
        }
        let call = Call {
            seq: 0,
            id: CallId::new(),
            workspace_id: tenant.id,
            direction,
            from_e164: from.to_string(),
            to_e164: to.to_string(),
            number_id: number.as_ref().map(|n| n.id),
            number_e164: number.map(|n| n.e164),
            assistant_id: assistant,
            campaign_id: campaign,
            status,
            started_at: started_at.unwrap_or(now),
            duration_seconds,
            created_at: now,
        };
        let call = store::insert_call(&mut tx, &call).await?;
        tx.commit().await?;
        Ok(call)
    }

    pub async fn list_calls(&self, tenant: Tenant, filter: &CallFilter, page: Page) -> Result<Vec<Call>> {
        Ok(store::list_calls(&self.db, tenant.id, filter, page).await?)
    }

    pub async fn count_calls(&self, tenant: Tenant, filter: &CallFilter) -> Result<i64> {
        Ok(store::count_calls(&self.db, tenant.id, filter).await?)
    }
}

fn number_taken(field: &str) -> Error {
    Error::new(
        axum::http::StatusCode::CONFLICT,
        "number_already_assigned",
        "This phone number already serves another inbound assistant.",
    )
    .with_details(serde_json::json!({ "field": field }))
}

/// The unique index is the last word when two assignments race.
fn taken_or(e: sqlx::Error, field: &str) -> Error {
    if is_unique_violation(&e) {
        number_taken(field)
    } else {
        e.into()
    }
}

pub fn assistant_not_found() -> Error {
    Error::not_found("assistant_not_found", "Assistant not found.")
}

pub fn campaign_not_found() -> Error {
    Error::not_found("campaign_not_found", "Campaign not found.")
}

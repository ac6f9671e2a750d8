//! Giving a released dedicated number back to the carrier, retried until the carrier confirms.

use std::borrow::Cow;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use super::{JobKind, JobType};
use crate::carrier::{removal, CarrierNumber};
use crate::domain::events::{EventActor, EventType};
use crate::domain::ids::{NumberId, WorkspaceId};
use crate::service::{Actor, Core, Tenant};
use crate::store::{numbers, workspaces, RowLock};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierRelease {
    pub workspace_id: WorkspaceId,
    pub number_id: NumberId,
    pub e164: String,
    /// The carrier account holding the number, when there is more than one.
    #[serde(default)]
    pub carrier_account: Option<String>,
    /// The carrier's own id for the number, when it has one.
    #[serde(default)]
    pub carrier_ref: Option<String>,
}

#[async_trait]
impl JobType for CarrierRelease {
    const KIND: JobKind = JobKind::CarrierRelease;

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("carrier_release:{}", self.number_id))
    }

    fn subject(&self) -> Option<(WorkspaceId, NumberId)> {
        Some((self.workspace_id, self.number_id))
    }

    async fn run(&self, core: &Core) -> Result<(), Cow<'static, str>> {
        let number = CarrierNumber { e164: self.e164.clone() };
        removal(core.carrier_timeout, core.carrier.release_number(&number)).await.map_err(|e| e.to_string().into())
    }

    /// The carrier confirmed, or the release was parked: either is news for the workspace.
    async fn finished(&self, core: &Core, conn: &mut AnyConnection, failure: Option<&str>) -> crate::error::Result<()> {
        let Some(rec) = numbers::get(conn, self.workspace_id, self.number_id, RowLock::None).await? else { return Ok(()) };
        let event_type = match failure {
            None => EventType::NumberCarrierReleaseConfirmed,
            Some(_) => EventType::NumberCarrierReleaseFailed,
        };
        let Some(ws) = workspaces::get_workspace(conn, self.workspace_id).await? else { return Ok(()) };
        let occurred_at = core.now(conn, Tenant { id: ws.id, test_mode: ws.test_mode, actor: Actor::Worker }).await?;
        core.record_number_event(conn, event_type, EventActor::worker(), &rec, occurred_at).await
    }
}

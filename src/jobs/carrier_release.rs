//! Giving a released dedicated number back to the carrier, retried until the carrier confirms.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use super::{JobFailure, JobKind, JobType, Retry};
use crate::carrier::{removal, CarrierError, CarrierNumber};
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

    async fn run(&self, core: &Core) -> Result<(), JobFailure> {
        let timeout = core.carrier_timeout;
        let Some(name) = &self.carrier_account else {
            let number = CarrierNumber { e164: self.e164.clone() };
            return Ok(removal(timeout, core.carrier.release_number(&number)).await?);
        };
        let account = core.accounts.get(name).ok_or_else(|| {
            JobFailure::new(format!("carrier account {name:?} is not configured; configure it, then retry this job"), Retry::Never)
        })?;
        let carrier_ref = self.carrier_ref.as_deref().unwrap_or(&self.e164);
        removal(timeout, account.release(carrier_ref)).await.map_err(|e| {
            if let CarrierError::RejectedCredentials(_) = e {
                tracing::error!(carrier = %name, number_id = %self.number_id, error = %e, "carrier rejected the account's credentials; release parked");
            }
            JobFailure::from(e)
        })
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

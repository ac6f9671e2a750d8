//! Reads the dialects' views need beside the main resource: integer ids, names and the whole
//! live inventory, each one query however many rows a page holds.

use super::{Core, Tenant};
use crate::domain::ids::{AssistantId, CampaignId, NumberId};
use crate::domain::number::NumberStatus;
use crate::domain::record::{NumberFilter, NumberRecord};
use crate::error::{Error, Result};
use crate::store::resources::{self as store, NamedTable};
use crate::store::{numbers, RowLock};

impl Core {
    /// A number of the workspace by integer id, deleted ones excepted.
    pub async fn number_by_seq(&self, tenant: Tenant, seq: i64) -> Result<NumberRecord> {
        let mut conn = self.db.pool.acquire().await?;
        numbers::get_by_seq(&mut conn, tenant.id, seq, RowLock::None)
            .await?
            .filter(|n| n.deleted_at.is_none())
            .ok_or_else(Error::number_not_found)
    }

    /// Integer ids of numbers known by uuid; numbers deleted since keep theirs.
    pub async fn number_seqs(&self, tenant: Tenant, ids: &[NumberId]) -> Result<Vec<(NumberId, i64)>> {
        Ok(numbers::seqs_of(&self.db, tenant.id, ids).await?)
    }

    /// Every active number of the workspace, oldest first, with due period ends applied first.
    pub async fn live_numbers(&self, tenant: Tenant) -> Result<Vec<NumberRecord>> {
        self.sweep(Some(tenant.id), self.batch).await?;
        let filter = NumberFilter { status: Some(NumberStatus::Active), ..Default::default() };
        Ok(numbers::list_whole(&self.db, tenant.id, &filter, None, i64::MAX).await?)
    }

    pub async fn count_assistants(&self, tenant: Tenant) -> Result<i64> {
        Ok(store::count(&self.db, "assistants", tenant.id).await?)
    }

    /// Numbers of the workspace that answer for an inbound assistant.
    pub async fn inbound_numbers(&self, tenant: Tenant) -> Result<Vec<NumberId>> {
        Ok(store::inbound_numbers(&self.db, tenant.id).await?)
    }

    /// Names of the workspace's assistants among `ids`; deleted ones are absent.
    pub async fn assistant_names(&self, tenant: Tenant, ids: &[AssistantId]) -> Result<Vec<(AssistantId, String)>> {
        Ok(store::names_of(&self.db, NamedTable::Assistants, tenant.id, ids).await?)
    }

    /// Names of the workspace's campaigns among `ids`; deleted ones are absent.
    pub async fn campaign_names(&self, tenant: Tenant, ids: &[CampaignId]) -> Result<Vec<(CampaignId, String)>> {
        Ok(store::names_of(&self.db, NamedTable::Campaigns, tenant.id, ids).await?)
    }
}

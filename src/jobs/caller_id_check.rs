//! Following a caller-ID verification at its carrier until it is verified (the number joins the
//! inventory), expires, or the carrier refuses it.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{JobFailure, JobKind, JobType, Retry};
use crate::domain::ids::{CallerIdId, WorkspaceId};
use crate::service::caller_ids::Check;
use crate::service::Core;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerIdCheck {
    pub workspace_id: WorkspaceId,
    pub caller_id: CallerIdId,
}

#[async_trait]
impl JobType for CallerIdCheck {
    const KIND: JobKind = JobKind::CallerIdCheck;

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("caller_id_check:{}", self.caller_id))
    }

    async fn run(&self, core: &Core) -> Result<(), JobFailure> {
        match core.check_caller_id(self.workspace_id, self.caller_id).await {
            Ok(Check::Settled) => Ok(()),
            Ok(Check::Again { after, why }) => Err(JobFailure::new(why, Retry::Poll(after))),
            // The database failed: the verification is unchanged; try again on the usual schedule.
            Err(e) => Err(JobFailure::new(e.to_string(), Retry::Backoff)),
        }
    }
}

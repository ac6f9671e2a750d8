//! Giving a released dedicated number back to the carrier, retried until the carrier confirms.

use std::borrow::Cow;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{JobKind, JobType};
use crate::carrier::{removal, CarrierNumber};
use crate::domain::ids::{NumberId, WorkspaceId};
use crate::service::Core;

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
}

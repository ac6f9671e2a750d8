//! A caller-ID verification: started at a carrier account, it ends verified (a `callerId` number
//! joins the inventory), expired, or failed.

use chrono::{DateTime, Utc};

use super::ids::{CallerIdId, NumberId, WorkspaceId};
use super::record::AccountKind;

super::text_enum!(
    /// Where a verification stands.
    VerificationState {
        /// Started; waiting for the owner (Twilio's call, Telnyx's code).
        Pending = "pending",
        /// The carrier confirmed it; the number is in the inventory.
        Verified = "verified",
        /// Not verified within the window.
        Expired = "expired",
        /// The carrier refused it, or the number could not join the inventory; `failure` says why.
        Failed = "failed",
    }
);

#[derive(Clone, Debug, PartialEq)]
pub struct CallerIdRecord {
    pub seq: i64,
    pub id: CallerIdId,
    pub workspace_id: WorkspaceId,
    pub e164: String,
    pub nickname: Option<String>,
    /// The carrier account the verification runs at (`[carriers.NAME]`).
    pub account: String,
    pub kind: AccountKind,
    pub status: VerificationState,
    /// What the owner types in on the carrier's call (Twilio); `None` where the carrier sends a code.
    pub validation_code: Option<String>,
    /// Real time, as the carrier's verification runs on it.
    pub expires_at: DateTime<Utc>,
    /// The `callerId` number, once verified.
    pub number_id: Option<NumberId>,
    /// The carrier's id for the verified caller ID (Twilio `PN…`; Telnyx the E.164 number).
    pub carrier_ref: Option<String>,
    pub failure: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CallerIdRecord {
    /// The state as of `now`: a pending verification past its window is expired whether or not
    /// the worker has recorded it yet, so what a read shows never depends on the worker's timing.
    pub fn status_at(&self, now: DateTime<Utc>) -> VerificationState {
        match self.status {
            VerificationState::Pending if now >= self.expires_at => VerificationState::Expired,
            s => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_verification_expires_at_its_deadline_and_nothing_else_does() {
        let at = Utc::now();
        let mut rec = CallerIdRecord {
            seq: 1,
            id: CallerIdId::new(),
            workspace_id: WorkspaceId::new(),
            e164: "+14155550100".into(),
            nickname: None,
            account: "us".into(),
            kind: AccountKind::Twilio,
            status: VerificationState::Pending,
            validation_code: None,
            expires_at: at,
            number_id: None,
            carrier_ref: None,
            failure: None,
            created_at: at,
            updated_at: at,
        };
        assert_eq!(rec.status_at(at - chrono::Duration::milliseconds(1)), VerificationState::Pending);
        assert_eq!(rec.status_at(at), VerificationState::Expired);
        rec.status = VerificationState::Verified;
        assert_eq!(rec.status_at(at + chrono::Duration::days(1)), VerificationState::Verified);
    }
}

//! Caller IDs: a verification started at a carrier account, followed there until the owner has
//! verified the number (it then joins the inventory as a `callerId` number) or the window closes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::numbers::validate_nickname;
use super::{carrier_unavailable, views, Actor, Core, Tenant};
use crate::carrier::account::{CallerIdVerification, VerificationStatus};
use crate::carrier::{within, CarrierError};
use crate::domain::caller_id::{CallerIdRecord, VerificationState};
use crate::domain::events::EventType;
use crate::domain::ids::{CallerIdId, NumberId, WorkspaceId};
use crate::domain::number::{Capabilities, NumberConfigurations, NumberKind, NumberStatus, NumberType};
use crate::domain::phone::E164;
use crate::domain::record::{CarrierHolding, NumberRecord};
use crate::domain::resources::Page;
use crate::error::{Code, Error, Result};
use crate::jobs::{self, CallerIdCheck};
use crate::store::{caller_ids as store, is_unique_violation, numbers, workspaces, RowLock};

/// Longest verification code accepted (Telnyx sends 4–8 digits).
pub const CODE_MAX: usize = 16;

pub struct NewCallerId {
    pub number: String,
    pub nickname: Option<String>,
    /// The carrier account to verify at; the default one when absent.
    pub carrier: Option<String>,
}

/// What one check at the carrier concluded.
#[derive(Debug)]
pub enum Check {
    /// Verified, expired or failed: nothing more to follow.
    Settled,
    /// Still pending (or the carrier failed for now): look again after `after`.
    Again { after: Duration, why: String },
}

fn not_found() -> Error {
    Error::new(Code::CallerIdNotFound, "Caller ID not found.")
}

impl Core {
    fn real_now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.caller_ids.poll_interval_ms)
    }

    /// Refuses a number already live in the workspace (409 `number_already_exists`) or already
    /// being verified there (409 `verification_already_pending`). A pending verification whose
    /// window has closed is recorded as expired, which frees the number.
    async fn refuse_taken(&self, conn: &mut AnyConnection, ws: WorkspaceId, e164: &str) -> Result<()> {
        if numbers::live_by_e164(conn, ws, e164).await?.is_some() {
            return Err(Error::new(Code::NumberAlreadyExists, format!("{e164} is already in this workspace."))
                .with_details(serde_json::json!({ "field": "number", "number": e164 })));
        }
        if let Some(mut pending) = store::pending_for(conn, ws, e164).await? {
            let now = self.real_now();
            if pending.status_at(now) == VerificationState::Pending {
                return Err(Error::new(
                    Code::VerificationAlreadyPending,
                    format!("A verification of {e164} is already under way; it expires at {}.", pending.expires_at.to_rfc3339()),
                )
                .with_details(serde_json::json!({ "field": "number", "callerId": pending.id })));
            }
            pending.status = VerificationState::Expired;
            pending.updated_at = now;
            store::update(conn, &pending).await?;
        }
        Ok(())
    }

    /// Starts a verification at the carrier, then records it and queues its checks. The carrier
    /// is called first: a crash in between leaves only a carrier-side verification that lapses.
    pub async fn start_caller_id(&self, tenant: Tenant, new: NewCallerId) -> Result<CallerIdRecord> {
        let e164 = E164::parse(&new.number, None).map_err(|e| Error::invalid_field("number", e.to_string()))?.to_string();
        let nickname = validate_nickname(new.nickname)?;
        let (name, account) = self.account(new.carrier.as_deref())?;
        {
            let mut conn = self.db.pool.acquire().await?;
            if numbers::live_by_e164(&mut conn, tenant.id, &e164).await?.is_some() {
                drop(conn);
                let mut tx = self.db.begin_write().await?;
                self.refuse_taken(&mut tx, tenant.id, &e164).await?;
            }
        }
        let started = within(self.carrier_timeout, account.start_verification(&e164, nickname.as_deref()))
            .await
            .map_err(|e| carrier_unavailable(&name, e))?;

        let mut tx = self.db.begin_write().await?;
        self.refuse_taken(&mut tx, tenant.id, &e164).await?;
        let now = self.real_now();
        let rec = CallerIdRecord {
            seq: 0,
            id: CallerIdId::new(),
            workspace_id: tenant.id,
            e164,
            nickname,
            account: name,
            kind: account.kind(),
            status: VerificationState::Pending,
            validation_code: started.validation_code,
            expires_at: now + chrono::Duration::milliseconds(self.caller_ids.expiry_ms as i64),
            number_id: None,
            carrier_ref: None,
            failure: None,
            created_at: now,
            updated_at: now,
        };
        let rec = match store::insert(&mut tx, &rec).await {
            Ok(r) => r,
            // A twin request won the race between the check and the insert.
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::new(Code::VerificationAlreadyPending, format!("A verification of {} is already under way.", rec.e164)))
            }
            Err(e) => return Err(e.into()),
        };
        let check = CallerIdCheck { workspace_id: tenant.id, caller_id: rec.id };
        jobs::enqueue(&mut tx, &check, now + chrono::Duration::from_std(self.poll_interval()).unwrap_or_default()).await?;
        tx.commit().await?;
        Ok(rec)
    }

    pub async fn get_caller_id(&self, tenant: Tenant, id: CallerIdId) -> Result<CallerIdRecord> {
        let mut conn = self.db.pool.acquire().await?;
        store::get(&mut conn, tenant.id, id, RowLock::None).await?.ok_or_else(not_found)
    }

    pub async fn list_caller_ids(&self, tenant: Tenant, page: Page) -> Result<Vec<CallerIdRecord>> {
        Ok(store::list(&self.db, tenant.id, page).await?)
    }

    /// Passes the code the carrier sent the owner (Telnyx). Verified: the number joins the
    /// inventory before this answers. Already verified: answered as it stands.
    pub async fn verify_caller_id(&self, tenant: Tenant, id: CallerIdId, code: &str) -> Result<CallerIdRecord> {
        let code = code.trim();
        if code.is_empty() || code.chars().count() > CODE_MAX || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::invalid_field("code", format!("must be 1 to {CODE_MAX} letters or digits")));
        }
        let rec = self.get_caller_id(tenant, id).await?;
        match rec.status_at(self.real_now()) {
            VerificationState::Pending => {}
            VerificationState::Verified => return Ok(rec),
            other => {
                return Err(Error::new(Code::VerificationNotPending, format!("This verification is {}; start a new one.", other.as_str()))
                    .with_details(serde_json::json!({ "status": other.as_str() })))
            }
        }
        let account =
            self.accounts.get(&rec.account).cloned().ok_or_else(|| {
                carrier_unavailable(&rec.account, CarrierError::Failed("the carrier account is no longer configured".into()))
            })?;
        let answer = within(self.carrier_timeout, account.submit_code(&rec.e164, code)).await.map_err(|e| match e {
            CarrierError::Unsupported(why) => Error::new(
                Code::VerificationByCall,
                format!(
                    "{why}: this carrier calls the number and the owner types the validationCode in; numberd sees the result by itself."
                ),
            ),
            CarrierError::Rejected { message, .. } => {
                Error::new(Code::InvalidVerificationCode, format!("The carrier did not accept the code: {message}"))
                    .with_details(serde_json::json!({ "field": "code" }))
            }
            other => carrier_unavailable(&rec.account, other),
        })?;
        match answer.status {
            VerificationStatus::Verified => self.complete_caller_id(rec.workspace_id, rec.id, &answer, tenant.actor).await,
            VerificationStatus::Pending => Ok(rec),
        }
    }

    /// One look at the carrier for the background check.
    pub async fn check_caller_id(&self, ws: WorkspaceId, id: CallerIdId) -> Result<Check> {
        let mut conn = self.db.pool.acquire().await?;
        let Some(rec) = store::get(&mut conn, ws, id, RowLock::None).await? else { return Ok(Check::Settled) };
        drop(conn);
        let now = self.real_now();
        match rec.status_at(now) {
            VerificationState::Pending => {}
            VerificationState::Expired if rec.status == VerificationState::Pending => {
                self.finish_caller_id(ws, id, VerificationState::Expired, None).await?;
                return Ok(Check::Settled);
            }
            _ => return Ok(Check::Settled),
        }
        let Some(account) = self.accounts.get(&rec.account).cloned() else {
            let why = format!("carrier account {:?} is no longer configured", rec.account);
            self.finish_caller_id(ws, id, VerificationState::Failed, Some(why)).await?;
            return Ok(Check::Settled);
        };
        // Never look again later than the window's end, so expiry is recorded on time.
        let until_expiry = (rec.expires_at - now).to_std().unwrap_or_default();
        let again = |after: Duration, why: String| Ok(Check::Again { after: after.min(until_expiry), why });
        match within(self.carrier_timeout, account.caller_id(&rec.e164)).await {
            Ok(Some(v)) if v.status == VerificationStatus::Verified => {
                self.complete_caller_id(ws, id, &v, Actor::Worker).await?;
                Ok(Check::Settled)
            }
            Ok(_) => again(self.poll_interval(), "waiting for the owner to verify".into()),
            Err(CarrierError::RateLimited { retry_after }) => {
                again(retry_after.max(self.poll_interval()), format!("carrier rate limit; retry after {retry_after:?}"))
            }
            Err(e) if e.is_transient() || e == CarrierError::NotFound => again(self.poll_interval(), e.to_string()),
            Err(e) => {
                if let CarrierError::RejectedCredentials(_) = e {
                    tracing::error!(carrier = %rec.account, caller_id = %id, error = %e, "carrier rejected the account's credentials; caller-ID verification failed");
                }
                self.finish_caller_id(ws, id, VerificationState::Failed, Some(e.to_string())).await?;
                Ok(Check::Settled)
            }
        }
    }

    /// Ends a pending verification without a number (expired or failed); a settled one is left.
    async fn finish_caller_id(&self, ws: WorkspaceId, id: CallerIdId, status: VerificationState, failure: Option<String>) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let Some(mut rec) = store::get(&mut tx, ws, id, self.db.for_update()).await? else { return Ok(()) };
        if rec.status == VerificationState::Pending {
            rec.status = status;
            rec.failure = failure;
            rec.updated_at = self.real_now();
            store::update(&mut tx, &rec).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The carrier confirmed: in one transaction the `callerId` number joins the inventory, held
    /// at the account, the verification points at it and `caller_id.verified` is recorded (by
    /// `actor`: the key that submitted the code, or the worker's check). Idempotent: a settled
    /// one is returned.
    async fn complete_caller_id(&self, ws: WorkspaceId, id: CallerIdId, v: &CallerIdVerification, actor: Actor) -> Result<CallerIdRecord> {
        let mut tx = self.db.begin_write().await?;
        let mut rec = store::get(&mut tx, ws, id, self.db.for_update()).await?.ok_or_else(not_found)?;
        if rec.status != VerificationState::Pending {
            return Ok(rec);
        }
        let real_now = self.real_now();
        let carrier_ref = v.carrier_ref.clone().unwrap_or_else(|| rec.e164.clone());
        if numbers::live_by_e164(&mut tx, ws, &rec.e164).await?.is_some() {
            // Registered by hand while the owner was verifying it: the inventory keeps that one.
            rec.status = VerificationState::Failed;
            rec.failure = Some(format!("{} was added to the workspace by other means during the verification", rec.e164));
            rec.updated_at = real_now;
            store::update(&mut tx, &rec).await?;
            tx.commit().await?;
            return Ok(rec);
        }
        let w = workspaces::get_workspace(&mut tx, ws).await?.ok_or_else(not_found)?;
        let now = self.now(&mut tx, Tenant { id: ws, test_mode: w.test_mode, actor }).await?;
        let parsed = E164::parse(&rec.e164, None).map_err(|e| Error::internal("stored caller id", e))?;
        let number = NumberRecord {
            seq: 0,
            id: NumberId::new(),
            workspace_id: ws,
            e164: rec.e164.clone(),
            kind: NumberKind::CallerId,
            number_type: parsed.number_type().unwrap_or(NumberType::Local),
            country: parsed.country().unwrap_or_default(),
            capabilities: Capabilities::default_for(NumberKind::CallerId),
            price: None,
            configurations: NumberConfigurations::default(),
            nickname: rec.nickname.clone(),
            status: NumberStatus::Active,
            subscription: None,
            activated_at: Some(now),
            deactivated_at: None,
            deleted_at: None,
            created_at: now,
            updated_at: now,
            carrier: Some(CarrierHolding { account: rec.account.clone(), kind: rec.kind, carrier_ref: carrier_ref.clone() }),
        };
        let number = numbers::insert(&mut tx, &number, views::template).await?;
        rec.status = VerificationState::Verified;
        rec.number_id = Some(number.id);
        rec.carrier_ref = Some(carrier_ref);
        rec.updated_at = real_now;
        store::update(&mut tx, &rec).await?;
        self.record_number_event(&mut tx, EventType::CallerIdVerified, actor.into(), &number, now).await?;
        tx.commit().await?;
        Ok(rec)
    }
}

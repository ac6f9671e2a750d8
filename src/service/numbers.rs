//! Registering, reading, listing and editing numbers.

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::{carrier_unavailable, views, Core, Tenant};
use crate::carrier::within;
use crate::domain::events::EventType;
use crate::domain::ids::{NumberId, SubscriptionId, WorkspaceId};
use crate::domain::money::Money;
use crate::domain::number::{Capabilities, NumberConfigurations, NumberKind, NumberStatus, NumberType};
use crate::domain::period::period;
use crate::domain::phone::E164;
use crate::domain::record::{BilledPeriod, CarrierHolding, NumberFilter, NumberRecord, RenewalFields, SubscriptionRecord};
use crate::error::{Code, Error, Result};
use crate::jobs::{Job, JobKind};
use crate::store::is_unique_violation;
use crate::store::jobs;
use crate::store::numbers::{self, Listed};

pub const NICKNAME_MAX: usize = 50;

/// A registration, already parsed by the API layer.
pub struct NewNumber {
    pub number: String,
    pub kind: NumberKind,
    pub number_type: Option<NumberType>,
    pub country: Option<String>,
    pub capabilities: Option<Capabilities>,
    pub price: Option<Money>,
    pub configurations: NumberConfigurations,
    pub nickname: Option<String>,
    /// Adopt a number this carrier account already holds.
    pub carrier: Option<String>,
}

/// A number as a page of them shows it.
pub enum Shown {
    /// Its stored view (see [`views::template`]) and what fills it.
    Stored(String, RenewalFields),
    /// A number without one, read whole.
    Number(Box<NumberWithRelease>),
}

/// A number with the state of its carrier release, if one was queued.
pub struct NumberWithRelease {
    pub number: NumberRecord,
    pub carrier_release: Option<Job>,
}

pub fn validate_nickname(nickname: Option<String>) -> Result<Option<String>> {
    match nickname {
        Some(n) if n.chars().count() > NICKNAME_MAX => {
            Err(Error::invalid_field("nickname", format!("must be at most {NICKNAME_MAX} characters")))
        }
        Some(n) if n.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

pub(crate) fn validate_country(country: &str) -> Result<String> {
    let upper = country.to_ascii_uppercase();
    if upper.len() != 2 || upper.parse::<phonenumber::country::Id>().is_err() {
        return Err(Error::invalid_field("country", "must be an ISO 3166-1 alpha-2 country code, e.g. US"));
    }
    Ok(upper)
}

/// A number about to enter the inventory, before it has ids and dates.
pub(crate) struct Draft {
    pub workspace_id: WorkspaceId,
    pub e164: String,
    pub kind: NumberKind,
    pub number_type: NumberType,
    pub country: String,
    pub capabilities: Capabilities,
    pub price: Option<Money>,
    pub configurations: NumberConfigurations,
    pub nickname: Option<String>,
    pub carrier: Option<CarrierHolding>,
}

/// Inserts a live number as of `now` (the workspace's clock); a dedicated one gets its `main`
/// subscription anchored at `now` and its first period recorded. A unique violation means the
/// workspace already has the number live.
pub(crate) async fn insert_live(conn: &mut AnyConnection, d: Draft, now: DateTime<Utc>) -> sqlx::Result<NumberRecord> {
    let subscription = (d.kind == NumberKind::Dedicated).then(|| SubscriptionRecord {
        id: SubscriptionId::new(),
        status: crate::domain::number::SubscriptionStatus::Active,
        anchor: now,
        period_index: 0,
        subscribed_at: now,
        updated_at: now,
        cancelled_at: None,
    });
    let rec = NumberRecord {
        seq: 0,
        id: NumberId::new(),
        workspace_id: d.workspace_id,
        e164: d.e164,
        kind: d.kind,
        number_type: d.number_type,
        country: d.country,
        capabilities: d.capabilities,
        price: d.price,
        configurations: d.configurations,
        nickname: d.nickname,
        status: NumberStatus::Active,
        subscription,
        activated_at: Some(now),
        deactivated_at: None,
        deleted_at: None,
        created_at: now,
        updated_at: now,
        carrier: d.carrier,
    };
    let rec = numbers::insert(conn, &rec, views::template).await?;
    if rec.subscription.is_some() {
        numbers::insert_periods(conn, [(&rec, period(now, 0))], now).await?;
    }
    Ok(rec)
}

impl Core {
    /// Adopting: the carrier account must already hold the number, and its id there is kept so
    /// the number is released there. Only dedicated numbers are held at an account.
    async fn held_at(&self, name: &str, e164: &str, kind: NumberKind) -> Result<(CarrierHolding, Option<Capabilities>)> {
        if kind != NumberKind::Dedicated {
            return Err(Error::invalid_field("carrier", "only dedicated numbers are held at a carrier account"));
        }
        let (name, account) = self.account(Some(name))?;
        let owned = within(self.carrier_timeout, account.find_owned(e164))
            .await
            .map_err(|e| carrier_unavailable(&name, e))?
            .ok_or_else(|| Error::new(Code::NumberNotAtCarrier, format!("{e164} is not held by carrier account {name:?}.")))?;
        let holding = CarrierHolding { account: name, kind: account.kind(), carrier_ref: owned.carrier_ref };
        Ok((holding, owned.capabilities.map(Into::into)))
    }

    pub async fn register_number(&self, tenant: Tenant, new: NewNumber) -> Result<NumberRecord> {
        let country = new.country.as_deref().map(validate_country).transpose()?;
        let e164 = E164::parse(&new.number, country.as_deref()).map_err(|e| Error::invalid_field("number", e.to_string()))?;
        let number_country = e164.country();
        let country = match (country, number_country) {
            (Some(given), Some(derived)) if given != derived => {
                return Err(Error::invalid_field("country", format!("is {given} but {} belongs to {derived}", e164)));
            }
            (Some(given), _) => given,
            (None, Some(derived)) => derived,
            (None, None) => return Err(Error::invalid_field("country", "is required: it cannot be derived from this number")),
        };
        let number_type = new
            .number_type
            .or_else(|| e164.number_type())
            .ok_or_else(|| Error::invalid_field("type", "is required: it cannot be derived from this number"))?;
        if let Some(price) = &new.price {
            price.validate().map_err(|m| Error::invalid_field("monthlyRecurringPrice", m))?;
        }
        let nickname = validate_nickname(new.nickname)?;
        let (carrier, carrier_caps) = match new.carrier.as_deref() {
            Some(name) => {
                let (held, caps) = self.held_at(name, &e164.to_string(), new.kind).await?;
                (Some(held), caps)
            }
            None => (None, None),
        };

        let mut tx = self.db.begin_write().await?;
        let now = self.now(&mut tx, tenant).await?;
        let draft = Draft {
            workspace_id: tenant.id,
            e164: e164.to_string(),
            kind: new.kind,
            number_type,
            country,
            capabilities: new.capabilities.or(carrier_caps).unwrap_or_else(|| Capabilities::default_for(new.kind)),
            price: new.price,
            configurations: new.configurations,
            nickname,
            carrier,
        };
        let rec = match insert_live(&mut tx, draft, now).await {
            Ok(r) => r,
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::new(Code::NumberAlreadyExists, format!("{e164} is already in this workspace."))
                    .with_details(serde_json::json!({ "field": "number", "number": e164.to_string() })));
            }
            Err(e) => return Err(e.into()),
        };
        self.record_number_event(&mut tx, EventType::NumberRegistered, tenant.actor.into(), &rec, now).await?;
        tx.commit().await?;
        Ok(rec)
    }

    /// A number as the workspace sees it now (see [`Core::read_settled`]).
    pub async fn get_number(&self, tenant: Tenant, id: NumberId) -> Result<NumberWithRelease> {
        let rec = self.read_settled(tenant, id, || numbers::read(&self.db, tenant.id, id), NumberRecord::is_due).await?;
        self.with_release(rec).await
    }

    /// [`Core::get_number`] as the native API shows it: its stored view where it has one.
    pub async fn show_number(&self, tenant: Tenant, id: NumberId) -> Result<Shown> {
        let row = self.read_settled(tenant, id, || numbers::read_listed(&self.db, tenant.id, id), Listed::is_due).await?;
        Ok(match row.template {
            Some(template) => Shown::Stored(template, row.renewal),
            // Just settled: read whole, as a page reads its numbers without a view.
            None => {
                let rec = numbers::read(&self.db, tenant.id, id).await?.ok_or_else(Error::number_not_found)?;
                Shown::Number(Box::new(self.with_release(rec).await?))
            }
        })
    }

    /// Number `id` as `read` reads it, after a period end that fell due was applied, so a read
    /// never shows a state the worker merely has not reached yet.
    async fn read_settled<T, F: std::future::Future<Output = sqlx::Result<Option<T>>>>(
        &self,
        tenant: Tenant,
        id: NumberId,
        read: impl Fn() -> F,
        is_due: fn(&T, DateTime<Utc>) -> bool,
    ) -> Result<T> {
        let found = || async { read().await?.ok_or_else(Error::number_not_found) };
        // The test clock is read before the number, so a number read after it is never older.
        let now = self.read_now(tenant).await?;
        let row = found().await?;
        if !is_due(&row, now) {
            return Ok(row);
        }
        // No connection is held while settling: it takes its own, and nested acquires could
        // starve the pool under load.
        self.settle_one(tenant, id).await?;
        found().await
    }

    pub async fn with_release(&self, rec: NumberRecord) -> Result<NumberWithRelease> {
        Ok(self.with_releases(vec![rec]).await?.pop().expect("one number in, one out"))
    }

    /// A page of numbers with their carrier releases, loaded in one query for the whole page, so a
    /// list shows each number as `GET` does.
    pub async fn with_releases(&self, recs: Vec<NumberRecord>) -> Result<Vec<NumberWithRelease>> {
        let released: Vec<NumberId> =
            recs.iter().filter(|r| r.kind == NumberKind::Dedicated && r.status == NumberStatus::Inactive).map(|r| r.id).collect();
        let mut jobs = jobs::read_latest_for_numbers(&self.db, JobKind::CarrierRelease, &released).await?;
        Ok(recs
            .into_iter()
            .map(|number| {
                let at = jobs.iter().position(|j| j.number_id == Some(number.id));
                NumberWithRelease { carrier_release: at.map(|at| jobs.swap_remove(at)), number }
            })
            .collect())
    }

    /// A page of listed numbers as the API shows them: stored views filled from their rows; the
    /// others read whole, with their carrier releases, in one query each for the page. One
    /// changed since it was listed shows its newer state; one deleted since is left out.
    pub async fn shown(&self, tenant: Tenant, rows: Vec<Listed>) -> Result<Vec<Shown>> {
        let unstored: Vec<NumberId> = rows.iter().filter(|r| r.template.is_none()).map(|r| r.id).collect();
        let mut whole = if unstored.is_empty() {
            Vec::new()
        } else {
            self.with_releases(numbers::read_many(&self.db, tenant.id, &unstored).await?).await?
        };
        Ok(rows
            .into_iter()
            .filter_map(|row| match row.template {
                Some(template) => Some(Shown::Stored(template, row.renewal)),
                None => {
                    let at = whole.iter().position(|n| n.number.id == row.id)?;
                    Some(Shown::Number(Box::new(whole.swap_remove(at))))
                }
            })
            .collect())
    }

    pub async fn list_numbers(&self, tenant: Tenant, filter: &NumberFilter, after: Option<i64>, limit: i64) -> Result<Vec<Listed>> {
        // Settle before show, without a write or an extra query in the usual case: settling
        // changes only status and subscription fields, so unless the filter selects on those,
        // the page itself tells whether a number on it fell due. A test clock is read from the
        // database, so test-mode workspaces always settle first.
        let state_filtered = filter.status.is_some() || filter.subscription_status.is_some();
        if !tenant.test_mode && !state_filtered {
            let page = numbers::list(&self.db, tenant.id, filter, after, limit).await?;
            let now = self.clock.now();
            if !page.iter().any(|r| r.is_due(now)) {
                return Ok(page);
            }
        }
        self.sweep(Some(tenant.id), self.batch).await?;
        Ok(numbers::list(&self.db, tenant.id, filter, after, limit).await?)
    }

    /// Changes nickname and/or configurations (`None` leaves a field as it is).
    pub async fn update_number(
        &self,
        tenant: Tenant,
        id: NumberId,
        nickname: Option<Option<String>>,
        configurations: Option<NumberConfigurations>,
    ) -> Result<NumberWithRelease> {
        let nickname = nickname.map(validate_nickname).transpose()?;
        let mut tx = self.db.begin_write().await?;
        let now = self.now(&mut tx, tenant).await?;
        let mut rec = numbers::get(&mut tx, tenant.id, id, self.db.for_update()).await?.ok_or_else(Error::number_not_found)?;
        self.settle(&mut tx, std::slice::from_mut(&mut rec), now).await?;
        let changed =
            nickname.as_ref().is_some_and(|n| *n != rec.nickname) || configurations.as_ref().is_some_and(|c| *c != rec.configurations);
        if changed {
            if let Some(n) = nickname {
                rec.nickname = n;
            }
            if let Some(c) = configurations {
                rec.configurations = c;
            }
            rec.updated_at = now;
            numbers::update(&mut tx, &rec, views::template).await?;
            self.record_number_event(&mut tx, EventType::NumberUpdated, tenant.actor.into(), &rec, now).await?;
        }
        tx.commit().await?;
        self.with_release(rec).await
    }

    pub async fn billed_periods(&self, tenant: Tenant, id: NumberId) -> Result<Vec<BilledPeriod>> {
        let number = self.get_number(tenant, id).await?;
        Ok(numbers::list_periods(&self.db, number.number.id).await?)
    }
}

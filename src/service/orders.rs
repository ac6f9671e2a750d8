//! Searching a carrier account for numbers, and buying them: the purchase saga.
//!
//! An order (the intent) and its items are written, with one `number_purchase` job per item,
//! before the carrier is called. The request then makes each item's first attempt itself; the
//! job carries on from wherever an attempt stopped (a timeout, a 5xx, a crash, a Telnyx order
//! still settling). A purchase is completed — number, subscription and item — in one
//! transaction. Twilio takes no idempotency key, so once a buy may have reached the carrier the
//! number is looked up there before any retry; Telnyx's order is found again by its
//! `customer_reference` (the item id). A number the carrier holds that numberd cannot keep is
//! released there (compensation) before its item is failed.

use sha2::{Digest, Sha256};

use super::numbers::{insert_live, validate_nickname, Draft};
use super::views::OrderView;
use super::{carrier_unavailable, Actor, Core, Tenant};
use crate::carrier::account::{AvailableNumber, OwnedNumber, Purchase, SearchQuery};
use crate::carrier::{removal, within, CarrierError};
use crate::domain::events::{Event, EventType};
use crate::domain::ids::{OrderId, OrderItemId, WorkspaceId};
use crate::domain::money::Money;
use crate::domain::number::{Capabilities, NumberConfigurations, NumberKind, NumberType};
use crate::domain::order::{
    order_status, ItemError, ItemRecord, ItemStage, ItemStatus, OrderRecord, OrderStatus, IDEMPOTENCY_WINDOW, MAX_ITEMS,
};
use crate::domain::phone::E164;
use crate::domain::record::{AccountKind, CarrierHolding};
use crate::error::{Code, Error, Result};
use crate::jobs::{self, JobFailure, NumberPurchase, Retry};
use crate::store::jobs as job_rows;
use crate::store::{is_unique_violation, numbers, orders, workspaces};

/// The longest an `Idempotency-Key` may be.
pub const IDEMPOTENCY_KEY_MAX: usize = 255;

/// An order as a request asked for it, before validation.
pub struct NewOrder {
    pub numbers: Vec<String>,
    pub carrier: Option<String>,
    pub nickname: Option<String>,
    pub price: Option<Money>,
    pub idempotency_key: Option<String>,
}

/// What one attempt at an item achieved.
#[derive(Debug)]
pub enum Attempt {
    /// The item is `purchased` or `failed`.
    Settled,
    /// The carrier's order is still pending; look again after this long.
    Waiting(std::time::Duration),
}

/// The result of a search, with the account that answered it.
pub struct Found {
    pub account: String,
    pub kind: AccountKind,
    pub numbers: Vec<AvailableNumber>,
}

/// A search as a request gives it, before validation (parameters named as the native API names
/// them: `country`, `areaCode`, `contains`, `limit`).
pub struct SearchRequest {
    pub country: String,
    pub number_type: crate::carrier::account::NumberType,
    pub area_code: Option<String>,
    pub contains: Option<String>,
    pub capability: Option<crate::carrier::account::Capability>,
    pub limit: Option<i64>,
}

/// Results per search.
pub const SEARCH_LIMIT_MAX: i64 = 50;
pub const SEARCH_LIMIT_DEFAULT: i64 = 20;

fn bad_parameter(name: &str, message: &str) -> Error {
    Error::new(Code::InvalidQueryParameter, format!("`{name}` {message}.")).with_details(serde_json::json!({ "parameter": name }))
}

fn digits(value: &Option<String>, name: &str, lengths: std::ops::RangeInclusive<usize>) -> Result<Option<String>> {
    match value {
        Some(v) if !lengths.contains(&v.len()) || !v.bytes().all(|b| b.is_ascii_digit()) => {
            Err(bad_parameter(name, &format!("must be {} to {} digits", lengths.start(), lengths.end())))
        }
        other => Ok(other.clone()),
    }
}

impl SearchRequest {
    fn validate(self) -> Result<SearchQuery> {
        let country = super::numbers::validate_country(&self.country)
            .map_err(|_| bad_parameter("country", "must be an ISO 3166-1 alpha-2 country code, e.g. US"))?;
        let limit = self.limit.unwrap_or(SEARCH_LIMIT_DEFAULT);
        if !(1..=SEARCH_LIMIT_MAX).contains(&limit) {
            return Err(bad_parameter("limit", &format!("must be between 1 and {SEARCH_LIMIT_MAX}")));
        }
        Ok(SearchQuery {
            country,
            number_type: self.number_type,
            area_code: digits(&self.area_code, "areaCode", 1..=6)?,
            contains: digits(&self.contains, "contains", 1..=10)?,
            capability: self.capability,
            limit: limit as u32,
        })
    }
}

/// The request as a digest: the same order asked again hashes the same.
fn request_hash(numbers: &[String], new: &NewOrder, nickname: &Option<String>) -> String {
    let canonical = serde_json::json!({
        "numbers": numbers, "carrier": new.carrier, "nickname": nickname,
        "price": new.price.map(|p| (p.amount, p.exponent, p.currency_code.as_str())),
    });
    Sha256::digest(canonical.to_string().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn validate_key(key: Option<String>) -> Result<Option<String>> {
    match key {
        Some(k) if k.is_empty() || k.len() > IDEMPOTENCY_KEY_MAX || !k.bytes().all(|b| b.is_ascii_graphic()) => {
            Err(Error::invalid_field("Idempotency-Key", format!("must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters")))
        }
        other => Ok(other),
    }
}

/// The numbers of an order, parsed: 1 to 25 distinct E.164 numbers whose country is known.
fn parse_numbers(raw: &[String]) -> Result<Vec<(String, String, NumberType)>> {
    if raw.is_empty() || raw.len() > MAX_ITEMS {
        return Err(Error::invalid_field("numbers", format!("must hold 1 to {MAX_ITEMS} numbers")));
    }
    let mut parsed: Vec<(String, String, NumberType)> = Vec::with_capacity(raw.len());
    for (i, n) in raw.iter().enumerate() {
        let field = format!("numbers.{i}");
        let e164 = E164::parse(n, None).map_err(|e| Error::invalid_field(&field, e.to_string()))?;
        let country = e164.country().ok_or_else(|| Error::invalid_field(&field, "belongs to no country"))?;
        if parsed.iter().any(|(p, _, _)| *p == e164.as_str()) {
            return Err(Error::invalid_field(&field, format!("repeats {e164}")));
        }
        parsed.push((e164.to_string(), country, e164.number_type().unwrap_or(NumberType::Local)));
    }
    Ok(parsed)
}

fn item_error(code: &str, message: String) -> Option<ItemError> {
    Some(ItemError { code: code.to_owned(), message })
}

impl Core {
    /// Numbers the account (or the default one) has for sale.
    pub async fn search_numbers(&self, carrier: Option<&str>, request: SearchRequest) -> Result<Found> {
        let query = request.validate()?;
        let (name, account) = self.account(carrier)?;
        let numbers = within(self.carrier_timeout, account.search(&query)).await.map_err(|e| carrier_unavailable(&name, e))?;
        Ok(Found { account: name, kind: account.kind(), numbers })
    }

    /// Places an order (or finds the one its idempotency key names), then makes each item's first
    /// attempt. Returns the order as it stands afterwards.
    pub async fn order_numbers(&self, tenant: Tenant, new: NewOrder) -> Result<OrderRecord> {
        let numbers = parse_numbers(&new.numbers)?;
        let nickname = validate_nickname(new.nickname.clone())?;
        if let Some(price) = &new.price {
            price.validate().map_err(|m| Error::invalid_field("monthlyRecurringPrice", m))?;
        }
        let key = validate_key(new.idempotency_key.clone())?;
        let (account, client) = self.account(new.carrier.as_deref())?;
        let e164s: Vec<String> = numbers.iter().map(|(e, _, _)| e.clone()).collect();
        let hash = request_hash(&e164s, &new, &nickname);

        // Two requests with one key may race to insert: the loser finds the winner's order.
        let mut tries = 0;
        let order = loop {
            tries += 1;
            let mut tx = self.db.begin_write().await?;
            let now = self.now(&mut tx, tenant).await?;
            if let Some(key) = &key {
                if let Some(existing) = orders::by_key(&mut tx, tenant.id, key).await? {
                    if existing.created_at + IDEMPOTENCY_WINDOW > now {
                        tx.rollback().await?;
                        return if existing.request_hash.as_deref() == Some(hash.as_str()) {
                            self.get_order(tenant, existing.id).await
                        } else {
                            Err(Error::new(
                                Code::IdempotencyKeyReused,
                                "This Idempotency-Key was used within the last 24 hours for a different request.",
                            ))
                        };
                    }
                    orders::clear_key(&mut tx, existing.id).await?;
                }
            }
            let id = OrderId::new();
            let mut items = Vec::with_capacity(numbers.len());
            for (position, (e164, _, _)) in numbers.iter().enumerate() {
                let mut item = ItemRecord {
                    id: OrderItemId::new(),
                    order_id: id,
                    position: position as i64,
                    e164: e164.clone(),
                    status: ItemStatus::Pending,
                    stage: ItemStage::New,
                    carrier_order_ref: None,
                    carrier_ref: None,
                    number_id: None,
                    error: None,
                    updated_at: now,
                };
                // Nothing to buy: the workspace already has it.
                if numbers::live_by_e164(&mut tx, tenant.id, e164).await?.is_some() {
                    item.settle(
                        ItemStatus::Failed,
                        item_error("number_already_exists", format!("{e164} is already in this workspace.")),
                        now,
                    );
                }
                items.push(item);
            }
            let order = OrderRecord {
                seq: 0,
                id,
                workspace_id: tenant.id,
                carrier_account: account.clone(),
                carrier_kind: client.kind(),
                nickname: nickname.clone(),
                price: new.price,
                status: order_status(&items.iter().map(|i| i.status).collect::<Vec<_>>()),
                idempotency_key: key.clone(),
                request_hash: Some(hash.clone()),
                created_at: now,
                updated_at: now,
                items,
            };
            let order = match orders::insert(&mut tx, &order).await {
                Ok(o) => o,
                Err(e) if is_unique_violation(&e) && key.is_some() && tries < 3 => continue,
                Err(e) => return Err(e.into()),
            };
            // Every number already in the workspace: the order is failed from the start.
            self.record_order_event(&mut tx, tenant.actor, &order, now).await?;
            // The jobs wait out a lease while this request makes the first attempt; if the
            // request dies, they take over.
            let lease = chrono::Duration::milliseconds(self.outbox.lease_ms as i64);
            for item in order.items.iter().filter(|i| i.status == ItemStatus::Pending) {
                let job = NumberPurchase { workspace_id: tenant.id, order_id: order.id, item_id: item.id };
                jobs::enqueue(&mut tx, &job, self.clock.now() + lease).await?;
            }
            tx.commit().await?;
            break order;
        };

        let attempts = order.items.iter().filter(|i| i.status == ItemStatus::Pending).map(|item| async move {
            let job = NumberPurchase { workspace_id: tenant.id, order_id: order.id, item_id: item.id };
            let next = match self.advance_item(&job, tenant.actor).await {
                Ok(Attempt::Settled) => None,
                Ok(Attempt::Waiting(delay)) => Some(delay),
                Err(f) => Some(match f.retry {
                    Retry::After(delay) | Retry::Poll(delay) => delay,
                    Retry::Backoff | Retry::Never => std::time::Duration::from_millis(self.outbox.backoff_base_ms),
                }),
            };
            let now = self.clock.now();
            let run_at = next.map(|d| now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX));
            job_rows::after_inline_attempt(&self.db, &NumberPurchase::key(item.id), run_at, now).await
        });
        for done in futures::future::join_all(attempts).await {
            done?;
        }
        self.get_order(tenant, order.id).await
    }

    pub async fn get_order(&self, tenant: Tenant, id: OrderId) -> Result<OrderRecord> {
        let mut conn = self.db.pool.acquire().await?;
        orders::get(&mut conn, tenant.id, id, crate::store::RowLock::None)
            .await?
            .ok_or_else(|| Error::new(Code::OrderNotFound, "Number order not found."))
    }

    pub async fn list_orders(&self, tenant: Tenant, after: Option<i64>, limit: i64) -> Result<Vec<OrderRecord>> {
        let mut conn = self.db.pool.acquire().await?;
        Ok(orders::list(&mut conn, tenant.id, after, limit).await?)
    }

    /// The workspace an attempt acts in, with its clock's mode.
    async fn attempt_tenant(&self, ws: WorkspaceId, actor: Actor) -> Result<Tenant> {
        let mut conn = self.db.pool.acquire().await?;
        let w = workspaces::get_workspace(&mut conn, ws).await?.ok_or_else(|| Error::internal("number purchase", "workspace gone"))?;
        Ok(Tenant { id: ws, test_mode: w.test_mode, actor })
    }

    /// One step of the saga for one item, from where it stands. `actor` is the access key when
    /// the ordering request makes the attempt itself, the worker when the job does: whichever
    /// settles the item is named on its events.
    pub async fn advance_item(&self, job: &NumberPurchase, actor: Actor) -> Result<Attempt, JobFailure> {
        let tenant = self.attempt_tenant(job.workspace_id, actor).await?;
        let order = self.get_order(tenant, job.order_id).await?;
        let item = order.items.iter().find(|i| i.id == job.item_id).cloned().ok_or("the order has no such item")?;
        if item.status != ItemStatus::Pending {
            return Ok(Attempt::Settled);
        }
        let name = &order.carrier_account;
        let account = self.accounts.get(name).cloned().ok_or_else(|| {
            JobFailure::new(format!("carrier account {name:?} is not configured; configure it, then retry this job"), Retry::Never)
        })?;
        let (e164, reference, timeout) = (item.e164.as_str(), item.id.to_string(), self.carrier_timeout);
        let outcome = match item.stage {
            ItemStage::Settled => return Ok(Attempt::Settled),
            ItemStage::Releasing => return self.compensate(tenant, &order, &item).await,
            ItemStage::Ordered => {
                let order_ref = item.carrier_order_ref.as_deref().unwrap_or_default();
                within(timeout, account.poll_order(order_ref, e164)).await
            }
            // A buy may have reached the carrier: buy again only if the carrier never saw it.
            ItemStage::Buying => match within(timeout, account.find_purchase(e164, &reference)).await.map_err(|e| self.loud(name, e))? {
                Some(found) => Ok(found),
                None => within(timeout, account.buy(e164, &reference)).await,
            },
            ItemStage::New => {
                if !self.mark(tenant, &order, &item, |i| i.stage = ItemStage::Buying).await? {
                    return Ok(Attempt::Settled);
                }
                within(timeout, account.buy(e164, &reference)).await
            }
        };
        match outcome {
            Ok(Purchase::Owned(owned)) => self.complete(tenant, &order, &item, owned).await,
            Ok(Purchase::Pending { order_ref }) => {
                self.mark(tenant, &order, &item, |i| {
                    i.stage = ItemStage::Ordered;
                    i.carrier_order_ref = Some(order_ref.clone());
                })
                .await?;
                Ok(Attempt::Waiting(std::time::Duration::from_millis(self.outbox.backoff_base_ms)))
            }
            Ok(Purchase::Failed { reason }) => self.fail(tenant, &order, &item, item_error("carrier_order_failed", reason)).await,
            // A definite refusal (the number is no longer for sale...): the carrier holds nothing.
            Err(CarrierError::Rejected { status, code, message }) => {
                let message = format!("Carrier account {name:?} refused the purchase ({status}, code {code}): {message}");
                self.fail(tenant, &order, &item, item_error("carrier_rejected", message)).await
            }
            Err(e) => Err(self.loud(name, e)),
        }
    }

    /// A carrier failure as the job records it; rejected credentials are logged loudly.
    fn loud(&self, account: &str, e: CarrierError) -> JobFailure {
        if let CarrierError::RejectedCredentials(_) = e {
            tracing::error!(carrier = %account, error = %e, "carrier rejected the account's credentials; purchase parked");
        }
        JobFailure::from(e)
    }

    /// Changes a pending item under its order's lock. Returns false if it was no longer in the
    /// stage `item` shows (another worker moved it on).
    async fn mark(&self, tenant: Tenant, order: &OrderRecord, item: &ItemRecord, change: impl FnOnce(&mut ItemRecord)) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let now = self.now(&mut tx, tenant).await?;
        let Some(mut current) = self.locked_item(&mut tx, order, item.id).await? else { return Ok(false) };
        if current.stage != item.stage || current.status != ItemStatus::Pending {
            return Ok(false);
        }
        change(&mut current);
        current.updated_at = now;
        orders::update_item(&mut tx, &current).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn locked_item(&self, conn: &mut sqlx::AnyConnection, order: &OrderRecord, item: OrderItemId) -> Result<Option<ItemRecord>> {
        let locked = orders::get(conn, order.workspace_id, order.id, self.db.for_update()).await?;
        Ok(locked.and_then(|o| o.items.into_iter().find(|i| i.id == item)))
    }

    /// Settles a pending item and its order's status, under the order's lock. The item that
    /// settles an order's last pending one records the order's outcome, once.
    async fn settle_item(
        &self,
        conn: &mut sqlx::AnyConnection,
        tenant: Tenant,
        order: &OrderRecord,
        mut item: ItemRecord,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        item.updated_at = now;
        orders::update_item(conn, &item).await?;
        let Some(mut settled) = orders::get(conn, order.workspace_id, order.id, crate::store::RowLock::None).await? else {
            return Ok(());
        };
        let before = settled.status;
        settled.status = order_status(&settled.items.iter().map(|i| i.status).collect::<Vec<_>>());
        settled.updated_at = now;
        orders::update_status(conn, order.id, settled.status, now).await?;
        if before == OrderStatus::Pending {
            self.record_order_event(conn, tenant.actor, &settled, now).await?;
        }
        Ok(())
    }

    /// Records `order.completed` (every number bought, or some: `partial`) or `order.failed` (none
    /// bought) for an order that has just reached that status; nothing while it is pending.
    async fn record_order_event(
        &self,
        conn: &mut sqlx::AnyConnection,
        actor: Actor,
        order: &OrderRecord,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let event_type = match order.status {
            OrderStatus::Pending => return Ok(()),
            OrderStatus::Completed | OrderStatus::Partial => EventType::OrderCompleted,
            OrderStatus::Failed => EventType::OrderFailed,
        };
        let mut event = Event::new(event_type, order.workspace_id, now, actor.into());
        event.data = serde_json::value::to_raw_value(&OrderView::from(order)).map_err(|e| Error::internal("event data", e))?;
        self.record_event(conn, event).await
    }

    async fn fail(&self, tenant: Tenant, order: &OrderRecord, item: &ItemRecord, error: Option<ItemError>) -> Result<Attempt, JobFailure> {
        let mut tx = self.db.begin_write().await?;
        let now = self.now(&mut tx, tenant).await?;
        if let Some(mut current) = self.locked_item(&mut tx, order, item.id).await?.filter(|i| i.status == ItemStatus::Pending) {
            current.settle(ItemStatus::Failed, error, now);
            self.settle_item(&mut tx, tenant, order, current, now).await?;
            tx.commit().await?;
        }
        Ok(Attempt::Settled)
    }

    /// The carrier holds the number: it enters the inventory, and the item is purchased, in one
    /// transaction. If the workspace already has it live, the carrier's purchase is undone.
    async fn complete(&self, tenant: Tenant, order: &OrderRecord, item: &ItemRecord, owned: OwnedNumber) -> Result<Attempt, JobFailure> {
        let mut tx = self.db.begin_write().await?;
        let now = self.now(&mut tx, tenant).await?;
        let Some(mut current) = self.locked_item(&mut tx, order, item.id).await?.filter(|i| i.status == ItemStatus::Pending) else {
            return Ok(Attempt::Settled);
        };
        current.carrier_ref = Some(owned.carrier_ref.clone());
        if numbers::live_by_e164(&mut tx, tenant.id, &item.e164).await?.is_some() {
            // Recorded before the release, so a crash in between releases again, never buys again.
            current.stage = ItemStage::Releasing;
            current.error = item_error(
                "number_already_exists",
                format!("{} was already live in this workspace; the carrier's purchase was released again (compensation).", item.e164),
            );
            current.updated_at = now;
            orders::update_item(&mut tx, &current).await?;
            tx.commit().await?;
            return self.compensate(tenant, order, &current).await;
        }
        let e164 = E164::parse(&item.e164, None).map_err(|e| JobFailure::new(e.to_string(), Retry::Never))?;
        let draft = Draft {
            workspace_id: tenant.id,
            e164: item.e164.clone(),
            kind: NumberKind::Dedicated,
            number_type: e164.number_type().unwrap_or(NumberType::Local),
            country: e164.country().unwrap_or_default(),
            capabilities: owned.capabilities.map(Into::into).unwrap_or_else(|| Capabilities::default_for(NumberKind::Dedicated)),
            price: order.price,
            configurations: NumberConfigurations::default(),
            nickname: order.nickname.clone(),
            carrier: Some(CarrierHolding {
                account: order.carrier_account.clone(),
                kind: order.carrier_kind,
                carrier_ref: owned.carrier_ref,
            }),
        };
        // A number registered by hand meanwhile (PostgreSQL): the next attempt compensates.
        let number = insert_live(&mut tx, draft, now).await.map_err(Error::from)?;
        current.number_id = Some(number.id);
        current.settle(ItemStatus::Purchased, None, now);
        self.record_number_event(&mut tx, EventType::NumberPurchased, tenant.actor.into(), &number, now).await?;
        self.settle_item(&mut tx, tenant, order, current, now).await?;
        tx.commit().await?;
        Ok(Attempt::Settled)
    }

    /// Gives back a number the carrier holds for an item numberd cannot keep, then fails the item
    /// with the reason recorded when the release was decided.
    async fn compensate(&self, tenant: Tenant, order: &OrderRecord, item: &ItemRecord) -> Result<Attempt, JobFailure> {
        let name = &order.carrier_account;
        let account = self.accounts.get(name).cloned().ok_or("the order's carrier account is not configured")?;
        let carrier_ref = item.carrier_ref.as_deref().ok_or("no carrier id to release")?;
        removal(self.carrier_timeout, account.release(carrier_ref)).await.map_err(|e| self.loud(name, e))?;
        tracing::warn!(carrier = %name, number = %item.e164, "purchased number released at the carrier: numberd could not keep it");
        self.fail(tenant, order, item, item.error.clone()).await
    }
}

//! Response bodies of the native API that events carry too. `NumberView` is Bird's `Number` plus
//! numberd's fields; `OrderView` is a number order.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::clock::json;
use crate::domain::money::Money;
use crate::domain::number::{Capabilities, NumberConfigurations, NumberKind, NumberStatus, NumberType, SubscriptionStatus};
use crate::domain::order::{ItemRecord, OrderRecord};
use crate::domain::record::{AccountKind, BilledPeriod, NumberRecord, RenewalFields};
use crate::jobs::Job;
use crate::service::numbers::{NumberWithRelease, Shown};

/// Bird's `NumberSubscriptionStatus`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NumberSubscriptionView {
    pub status: SubscriptionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "json::opt_ts")]
    pub subscribed_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "json::opt_ts")]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "json::opt_ts")]
    pub cancelled_at: Option<DateTime<Utc>>,
}

/// Bird's `EndpointSubscriptionDetails`: `correlationId` is the number id; `startAt`/`endAt`
/// bound the current (or, once released, the last) billing period.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSubscriptionDetails {
    pub id: Uuid,
    pub correlation_id: Uuid,
    pub status: SubscriptionStatus,
    #[serde(serialize_with = "json::ts")]
    pub subscribed_at: DateTime<Utc>,
    #[serde(serialize_with = "json::ts")]
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "json::opt_ts")]
    pub canceled_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "json::ts")]
    pub start_at: DateTime<Utc>,
    #[serde(serialize_with = "json::ts")]
    pub end_at: DateTime<Utc>,
}

/// Bird's `EndpointSubscription`; a number has one, named `main`.
#[derive(Serialize, ToSchema)]
pub struct EndpointSubscription {
    pub name: &'static str,
    pub status: SubscriptionStatus,
    pub price: Option<Money>,
    pub subscription: EndpointSubscriptionDetails,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeriodView {
    /// 0 for the first period.
    pub index: i64,
    #[serde(serialize_with = "json::ts")]
    pub start_at: DateTime<Utc>,
    #[serde(serialize_with = "json::ts")]
    pub end_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Money>,
}

/// Delivery of a released dedicated number back to the carrier.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CarrierReleaseView {
    /// `pending` (queued or retrying), `done`, or `failed` (parked after repeated failure).
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "json::opt_ts")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "json::ts")]
    pub updated_at: DateTime<Utc>,
}

/// The carrier account holding a number.
#[derive(Serialize, ToSchema)]
pub struct CarrierView {
    /// The account's name in numberd's configuration.
    pub name: String,
    /// `twilio` or `telnyx`.
    pub kind: &'static str,
    /// The carrier's id for the number (Twilio `PN…` sid, Telnyx id).
    #[serde(rename = "ref")]
    pub carrier_ref: String,
}

/// Bird's `EndpointProvisioningStatus`, following the carrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProvisioningStatus {
    Provisioning,
    Provisioned,
    /// Released; the carrier release is queued or retrying.
    Deprovisioning,
    /// The carrier confirmed the release.
    Deprovisioned,
}

/// Bird's `EndpointFragment`, for numbers a carrier account holds.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointFragment {
    /// The number's id.
    pub id: Uuid,
    /// Always `long-code-number`.
    #[serde(rename = "type")]
    pub endpoint_type: &'static str,
    /// The workspace id.
    pub instance_id: Uuid,
    /// The number, E.164.
    pub name: String,
    #[schema(value_type = Vec<Object>)]
    pub capabilities: Vec<serde_json::Value>,
    pub provisioning_status: ProvisioningStatus,
    #[serde(serialize_with = "json::ts")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "json::ts")]
    pub updated_at: DateTime<Utc>,
}

fn provisioning(n: &NumberRecord, release: Option<&Job>) -> ProvisioningStatus {
    use crate::jobs::JobStatus;
    match (n.status, release.map(|j| j.status)) {
        (NumberStatus::Active, _) => ProvisioningStatus::Provisioned,
        (_, Some(JobStatus::Done)) => ProvisioningStatus::Deprovisioned,
        _ => ProvisioningStatus::Deprovisioning,
    }
}

/// A number: Bird's `Number` schema plus `kind`, `nickname`, `currentPeriod`, `autocallsId` and
/// `carrierRelease`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NumberView {
    pub id: Uuid,
    /// The integer id the Autocalls dialect uses for this number.
    pub autocalls_id: i64,
    /// E.164.
    pub number: String,
    #[serde(rename = "type")]
    pub number_type: NumberType,
    pub kind: NumberKind,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub capabilities: Capabilities,
    pub monthly_recurring_price: Option<Money>,
    pub status: NumberStatus,
    pub subscription: NumberSubscriptionView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_subscription: Option<EndpointSubscriptionDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_period: Option<PeriodView>,
    pub configurations: NumberConfigurations,
    pub nickname: Option<String>,
    #[serde(serialize_with = "json::ts")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "json::opt_ts")]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "json::opt_ts")]
    pub activated_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "json::opt_ts")]
    pub deactivated_at: Option<DateTime<Utc>>,
    /// When a canceling number will leave: the end of its paid period.
    #[serde(serialize_with = "json::opt_ts")]
    pub deactivates_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier_release: Option<CarrierReleaseView>,
    /// The carrier account holding the number; absent for numbers registered by hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier: Option<CarrierView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<EndpointFragment>,
}

pub fn endpoint_details(n: &NumberRecord) -> Option<EndpointSubscriptionDetails> {
    let s = n.subscription.as_ref()?;
    let p = s.current_period();
    Some(EndpointSubscriptionDetails {
        id: s.id.0,
        correlation_id: n.id.0,
        status: s.status,
        subscribed_at: s.subscribed_at,
        updated_at: s.updated_at,
        canceled_at: s.cancelled_at,
        start_at: p.start,
        end_at: p.end,
    })
}

pub fn endpoint_subscription(n: &NumberRecord) -> Option<EndpointSubscription> {
    let details = endpoint_details(n)?;
    Some(EndpointSubscription { name: "main", status: details.status, price: n.price, subscription: details })
}

fn carrier_release(job: &Job) -> CarrierReleaseView {
    use crate::jobs::JobStatus;
    CarrierReleaseView {
        status: job.status.as_str().into(),
        attempts: job.attempts,
        last_error: job.last_error.clone(),
        next_attempt_at: (job.status == JobStatus::Pending).then_some(job.run_at),
        updated_at: job.updated_at,
    }
}

impl NumberView {
    pub fn new(n: &NumberRecord, release: Option<&Job>) -> Self {
        let sub = n.subscription.as_ref();
        let live_period = sub.filter(|s| s.status != SubscriptionStatus::Canceled).map(|s| s.current_period());
        NumberView {
            id: n.id.0,
            autocalls_id: n.seq,
            number: n.e164.clone(),
            number_type: n.number_type,
            kind: n.kind,
            country: n.country.clone(),
            capabilities: n.capabilities,
            monthly_recurring_price: n.price,
            status: n.status,
            subscription: NumberSubscriptionView {
                status: n.subscription_status(),
                subscribed_at: sub.map(|s| s.subscribed_at),
                updated_at: sub.map(|s| s.updated_at),
                cancelled_at: sub.and_then(|s| s.cancelled_at),
            },
            endpoint_subscription: endpoint_details(n),
            current_period: live_period.map(|p| PeriodView { index: p.index, start_at: p.start, end_at: p.end, price: n.price }),
            configurations: n.configurations.clone(),
            nickname: n.nickname.clone(),
            created_at: n.created_at,
            updated_at: Some(n.updated_at),
            activated_at: n.activated_at,
            deactivated_at: n.deactivated_at,
            deactivates_at: n.deactivates_at(),
            carrier_release: release.map(carrier_release),
            carrier: n.carrier.as_ref().map(|c| CarrierView {
                name: c.account.clone(),
                kind: c.kind.as_str(),
                carrier_ref: c.carrier_ref.clone(),
            }),
            endpoint: n.carrier.as_ref().map(|_| EndpointFragment {
                id: n.id.0,
                endpoint_type: "long-code-number",
                instance_id: n.workspace_id.0,
                name: n.e164.clone(),
                capabilities: Vec::new(),
                provisioning_status: provisioning(n, release),
                created_at: n.created_at,
                updated_at: n.updated_at,
            }),
        }
    }
}

/// The holes of a stored view (see [`template`]): [`hole::MARK`], a byte serde_json never writes
/// unescaped (it escapes every control character inside strings and writes none outside them),
/// then one of the codes below.
mod hole {
    pub const MARK: u8 = 1;
    pub const UPDATED: u8 = b'u';
    pub const SUB_UPDATED: u8 = b's';
    pub const START: u8 = b'a';
    pub const END: u8 = b'e';
    pub const INDEX: u8 = b'i';
    /// The timestamp holes; [`super::fill`] keeps what it wrote for each at its place here.
    pub const STAMPS: [u8; 4] = [UPDATED, SUB_UPDATED, START, END];

    pub fn stamp(code: u8) -> Option<usize> {
        STAMPS.iter().position(|&c| c == code)
    }
}

/// Stand-ins rendered where a template gets a hole, then cut out: a timestamp per hole (1 to 4
/// microseconds after the epoch) and a period index no number reaches.
fn stand_in(h: u8) -> DateTime<Utc> {
    crate::domain::clock::from_micros(hole::stamp(h).expect("a timestamp hole") as i64 + 1)
}
const INDEX_STAND_IN: i64 = i64::MIN + 5;

/// What a number's stored view is ([`crate::store::numbers::View`]): the JSON the API shows for
/// it with holes where a renewal changes it ([`RenewalFields`]), so a renewal, which changes
/// nothing else, leaves it as it is, and [`fill`] completes it from the row. `None` where no
/// template is right: a released dedicated number shows its carrier release (a job's state), a
/// deleted one is shown nowhere, and one whose own text (a nickname, say) reads like a stand-in
/// would get a hole too many.
pub fn template(n: &NumberRecord) -> Option<String> {
    let shows_a_job = n.kind == NumberKind::Dedicated && n.status == NumberStatus::Inactive;
    if n.deleted_at.is_some() || shows_a_job {
        return None;
    }
    let mut v = NumberView::new(n, None);
    let mut holes = 0;
    let mut punch = |slot: &mut DateTime<Utc>, h: u8| {
        *slot = stand_in(h);
        holes += 1;
    };
    if let Some(at) = v.updated_at.as_mut() {
        punch(at, hole::UPDATED);
    }
    if let Some(e) = v.endpoint.as_mut() {
        punch(&mut e.updated_at, hole::UPDATED);
    }
    if let Some(at) = v.subscription.updated_at.as_mut() {
        punch(at, hole::SUB_UPDATED);
    }
    if let Some(e) = v.endpoint_subscription.as_mut() {
        punch(&mut e.updated_at, hole::SUB_UPDATED);
        punch(&mut e.start_at, hole::START);
        punch(&mut e.end_at, hole::END);
    }
    if let Some(p) = v.current_period.as_mut() {
        punch(&mut p.start_at, hole::START);
        punch(&mut p.end_at, hole::END);
        p.index = INDEX_STAND_IN;
        holes += 1;
    }
    let mut text = serde_json::to_string(&v).expect("views serialise");
    let mut cut = 0;
    let index = format!("\"index\":{INDEX_STAND_IN}");
    let punched = |h: u8| format!("{}{}", char::from(hole::MARK), char::from(h));
    let mut tokens = vec![(index, format!("\"index\":{}", punched(hole::INDEX)))];
    for h in hole::STAMPS {
        let mut token = Vec::new();
        json::push(&stand_in(h), &mut token);
        tokens.push((String::from_utf8(token).expect("timestamps are ASCII"), punched(h)));
    }
    for (token, with) in tokens {
        cut += text.matches(&token).count();
        text = text.replace(&token, &with);
    }
    (cut == holes).then_some(text)
}

/// Appends a stored view, its holes filled from the number's row. Every listed number goes
/// through here, so the holes are found with `memchr` (a byte at a time, this was an eighth of a
/// page's time), and each of the row's values is written once and copied where it recurs.
pub fn fill(template: &str, f: &RenewalFields, out: &mut Vec<u8>) {
    // In the order of `hole::STAMPS`.
    let values = [Some(f.updated_at), f.sub_updated_at, f.period.map(|p| p.start), f.period.map(|p| p.end)];
    let mut written: [Option<std::ops::Range<usize>>; 4] = Default::default();
    let mut rest = template.as_bytes();
    while let Some(at) = memchr::memchr(hole::MARK, rest) {
        out.extend_from_slice(&rest[..at]);
        let Some(&code) = rest.get(at + 1) else { break };
        rest = &rest[at + 2..];
        let Some(slot) = hole::stamp(code) else {
            // The index hole, which a template gets only where the row has a period.
            out.extend_from_slice(f.period.map_or(0, |p| p.index).to_string().as_bytes());
            continue;
        };
        match (&written[slot], values[slot]) {
            (Some(range), _) => out.extend_from_within(range.clone()),
            (None, Some(t)) => {
                let from = out.len();
                json::push(&t, out);
                written[slot] = Some(from..out.len());
            }
            (None, None) => out.extend_from_slice(b"null"),
        }
    }
    out.extend_from_slice(rest);
}

impl From<NumberWithRelease> for NumberView {
    fn from(n: NumberWithRelease) -> Self {
        NumberView::new(&n.number, n.carrier_release.as_ref())
    }
}

impl From<&BilledPeriod> for PeriodView {
    fn from(b: &BilledPeriod) -> Self {
        PeriodView { index: b.period.index, start_at: b.period.start, end_at: b.period.end, price: b.price }
    }
}

/// Bird's list envelope; `nextPageToken` is absent on the last page.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NumberList {
    #[schema(value_type = Vec<NumberView>)]
    pub results: Vec<Shown>,
    pub next_page_token: Option<String>,
}

impl Shown {
    /// Its JSON: the stored view filled, or the number written whole.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Shown::Stored(template, fields) => fill(template, fields, out),
            Shown::Number(n) => {
                serde_json::to_writer(out, &NumberView::new(&n.number, n.carrier_release.as_ref())).expect("views serialise")
            }
        }
    }

    /// The size its JSON is likely to take.
    pub fn size_hint(&self) -> usize {
        if let Shown::Stored(t, _) = self {
            t.len() + 120
        } else {
            1500
        }
    }
}

impl NumberList {
    /// The JSON body, stored views copied in and filled. serde emits a string as JSON only
    /// through `RawValue`, which parses it again, so the envelope is written here.
    pub fn write(&self) -> Vec<u8> {
        let size: usize = self.results.iter().map(Shown::size_hint).sum();
        let mut body = Vec::with_capacity(size + 64);
        body.extend_from_slice(b"{\"results\":[");
        for (i, shown) in self.results.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            shown.write(&mut body);
        }
        body.push(b']');
        if let Some(token) = &self.next_page_token {
            body.extend_from_slice(b",\"nextPageToken\":");
            serde_json::to_writer(&mut body, token).expect("strings serialise");
        }
        body.push(b'}');
        body
    }
}

/// A carrier account, by its name in numberd's configuration.
#[derive(Serialize, ToSchema)]
pub struct AccountView {
    pub name: String,
    /// `twilio` or `telnyx`.
    pub kind: &'static str,
}

impl AccountView {
    pub fn new(name: &str, kind: AccountKind) -> Self {
        AccountView { name: name.to_owned(), kind: kind.as_str() }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ItemErrorView {
    /// `number_already_exists`, `carrier_rejected` or `carrier_order_failed`.
    pub code: String,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderItemView {
    pub number: String,
    /// `pending`, `purchased` or `failed`.
    pub status: &'static str,
    /// The number in the inventory, once purchased.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemErrorView>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    pub id: Uuid,
    /// `pending` (some number is not settled yet), `completed`, `partial` or `failed`.
    pub status: &'static str,
    pub carrier: AccountView,
    #[serde(serialize_with = "json::ts")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "json::ts")]
    pub updated_at: DateTime<Utc>,
    pub numbers: Vec<OrderItemView>,
}

fn item_view(i: &ItemRecord) -> OrderItemView {
    OrderItemView {
        number: i.e164.clone(),
        status: i.status.as_str(),
        number_id: i.number_id.map(|n| n.0),
        error: i.error.as_ref().map(|e| ItemErrorView { code: e.code.clone(), message: e.message.clone() }),
    }
}

impl From<&OrderRecord> for OrderView {
    fn from(o: &OrderRecord) -> Self {
        OrderView {
            id: o.id.0,
            status: o.status.as_str(),
            carrier: AccountView::new(&o.carrier_account, o.carrier_kind),
            created_at: o.created_at,
            updated_at: o.updated_at,
            numbers: o.items.iter().map(item_view).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::domain::ids::{NumberId, SubscriptionId, WorkspaceId};
    use crate::domain::record::{CarrierHolding, SubscriptionRecord};

    fn number(kind: NumberKind, anchor: DateTime<Utc>, nickname: Option<&str>) -> NumberRecord {
        let subscription = (kind == NumberKind::Dedicated).then(|| SubscriptionRecord {
            id: SubscriptionId::new(),
            status: SubscriptionStatus::Active,
            anchor,
            period_index: 0,
            subscribed_at: anchor,
            updated_at: anchor,
            cancelled_at: None,
        });
        NumberRecord {
            seq: 7,
            id: NumberId::new(),
            workspace_id: WorkspaceId::new(),
            e164: "+14155550100".into(),
            kind,
            number_type: NumberType::Local,
            country: "US".into(),
            capabilities: serde_json::from_value(serde_json::json!({
                "sms": { "inbound": true, "outbound": true }, "voice": { "inbound": true, "outbound": false },
                "mms": { "inbound": false, "outbound": false }, "fax": { "inbound": false, "outbound": false } }))
            .unwrap(),
            price: None,
            configurations: Default::default(),
            nickname: nickname.map(str::to_owned),
            status: NumberStatus::Active,
            subscription,
            activated_at: Some(anchor),
            deactivated_at: None,
            deleted_at: None,
            created_at: anchor,
            updated_at: anchor,
            carrier: (kind == NumberKind::Dedicated).then(|| CarrierHolding {
                account: "main".into(),
                kind: AccountKind::Twilio,
                carrier_ref: "PN1".into(),
            }),
        }
    }

    /// What a list reads of `n` to fill its template (`store::numbers::Listed`, from columns).
    fn renewal_fields(n: &NumberRecord) -> RenewalFields {
        let sub = n.subscription.as_ref();
        RenewalFields { updated_at: n.updated_at, sub_updated_at: sub.map(|s| s.updated_at), period: sub.map(|s| s.current_period()) }
    }

    fn filled(template: &str, n: &NumberRecord) -> serde_json::Value {
        let mut out = Vec::new();
        fill(template, &renewal_fields(n), &mut out);
        serde_json::from_slice(&out).expect("a filled view is JSON")
    }

    fn shown(n: &NumberRecord) -> serde_json::Value {
        serde_json::to_value(NumberView::new(n, None)).unwrap()
    }

    /// A renewal leaves a number's stored view as it was; filled from the row, it shows the number
    /// exactly as rendered whole, through a year of renewals from a month's last day, at whatever
    /// instants they ran.
    #[test]
    fn a_template_filled_after_renewals_shows_the_renewed_number() {
        let anchor = Utc.with_ymd_and_hms(2025, 1, 31, 23, 59, 59).unwrap() + Duration::microseconds(123_456);
        for kind in [NumberKind::Dedicated, NumberKind::Sip, NumberKind::CallerId] {
            let mut n = number(kind, anchor, Some("desk"));
            let template = template(&n).expect("a live number keeps a view");
            assert_eq!(filled(&template, &n), shown(&n), "{kind:?} as registered");
            for renewal in 1..=13 {
                let at = anchor + Duration::days(31 * renewal) + Duration::milliseconds(renewal * 7);
                if let Some(sub) = n.subscription.as_mut() {
                    (sub.period_index, sub.updated_at) = (renewal, at);
                }
                n.updated_at = at;
                assert_eq!(filled(&template, &n), shown(&n), "{kind:?} after renewal {renewal}");
            }
        }
    }

    #[test]
    fn a_canceling_number_keeps_a_view_and_a_released_or_deleted_one_none() {
        let anchor = Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap();
        let mut n = number(NumberKind::Dedicated, anchor, None);
        let sub = n.subscription.as_mut().unwrap();
        (sub.status, sub.cancelled_at) = (SubscriptionStatus::Canceling, Some(anchor + Duration::days(3)));
        let template = template(&n).expect("a canceling number keeps a view");
        assert_eq!(filled(&template, &n), shown(&n));
        n.status = NumberStatus::Inactive;
        assert_eq!(super::template(&n), None, "a released dedicated number shows its carrier release");
        let mut sip = number(NumberKind::Sip, anchor, None);
        sip.deleted_at = Some(anchor);
        assert_eq!(super::template(&sip), None);
    }

    /// Text of the number's own that reads like a stand-in would be cut into a hole: such a number
    /// keeps no view and is read whole instead.
    #[test]
    fn text_that_reads_like_a_stand_in_keeps_no_view() {
        let anchor = Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap();
        for nickname in ["1970-01-01T00:00:00.000001Z", "1970-01-01T00:00:00.000004Z"] {
            assert_eq!(template(&number(NumberKind::Sip, anchor, Some(nickname))), None, "{nickname}");
        }
        let near = number(NumberKind::Sip, anchor, Some("1970-01-01T00:00:00.000001Z "));
        assert_eq!(filled(&template(&near).expect("not a stand-in"), &near), shown(&near));
    }
}

//! Webhook endpoints: managing them, checking their URLs against server-side request forgery,
//! signing deliveries the Standard Webhooks way, and making one delivery attempt.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::Serialize;
use sha2::Sha256;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Core, Tenant};
use crate::config::WebhooksConfig;
use crate::domain::events::{Delivery, DeliveryStatus, Event, EventActor, EventType, Webhook};
use crate::error::{Code, Error, Result};
use crate::store::{events, webhooks, RowLock};

pub const SECRET_PREFIX: &str = "whsec_";
pub const DESCRIPTION_MAX: usize = 255;
pub const URL_MAX: usize = 2048;
/// After a rotation the old secret keeps signing this long beside the new one.
pub const ROTATION_OVERLAP: Duration = Duration::hours(24);
/// An endpoint whose every attempt failed for this long is disabled.
pub const DISABLE_AFTER: Duration = Duration::days(5);

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// A change to a webhook; `None` leaves a field as it is.
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// A webhook as the API shows it: never its secret.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    /// Event types delivered, or `["*"]` for all.
    pub events: Vec<String>,
    /// False once disabled (by hand, or after 5 days of failing every delivery).
    pub enabled: bool,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Webhook> for WebhookView {
    fn from(w: &Webhook) -> Self {
        WebhookView {
            id: w.id,
            url: w.url.clone(),
            description: w.description.clone(),
            events: w.events.clone(),
            enabled: w.enabled,
            disabled_at: w.disabled_at,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// A new signing secret: `whsec_` and the base64 of 24 random bytes.
pub fn mint_secret() -> String {
    let mut key = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", B64.encode(key))
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the secret's decoded bytes.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = B64.decode(secret.strip_prefix(SECRET_PREFIX)?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{msg_id}.{timestamp}.{body}").as_bytes());
    Some(format!("v1,{}", B64.encode(mac.finalize().into_bytes())))
}

/// Addresses no webhook may reach unless `webhooks.allow_private`: loopback, private, link-local
/// (cloud metadata lives there), shared, unspecified, broadcast, multicast and reserved ranges.
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    }
}

/// Host names that always mean this machine or a cloud metadata service.
fn forbidden_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost") || host == "metadata.google.internal" || host == "metadata"
}

/// The checks a URL must pass without looking anything up: `https` (or `http` with
/// `allow_private`), a host, and no forbidden literal address or name.
pub fn check_url(raw: &str, allow_private: bool) -> std::result::Result<url::Url, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("is not a valid URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err("must be an https URL".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    let host = match url.host() {
        None => return Err("must name a host".into()),
        Some(h) => h,
    };
    if allow_private {
        return Ok(url);
    }
    let refused = match host {
        url::Host::Ipv4(ip) => forbidden(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => forbidden(IpAddr::V6(ip)),
        url::Host::Domain(name) => forbidden_name(name),
    };
    if refused {
        return Err("must not point at a loopback, private, link-local or metadata address".into());
    }
    Ok(url)
}

/// Resolves `host`; refuses when any of its addresses is forbidden.
async fn resolve_public(host: &str) -> std::result::Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await.map_err(|e| format!("cannot resolve {host}: {e}"))?.collect();
    if let Some(bad) = addrs.iter().find(|a| forbidden(a.ip())) {
        return Err(format!("{host} resolves to {}, a loopback, private, link-local or metadata address", bad.ip()));
    }
    Ok(addrs)
}

/// Name resolution for deliveries: every address a name resolves to is checked at connection
/// time, so a name that later points inside the network is refused (no check-then-use gap).
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = resolve_public(&host).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The client deliveries are sent with: the configured deadline, no redirects (a redirect could
/// lead anywhere), and with `allow_private` off the checking resolver.
pub fn delivery_client(config: &WebhooksConfig) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(config.timeout_ms))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("numberd/", env!("CARGO_PKG_VERSION")));
    if !config.allow_private {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    builder.build()
}

/// The error and its causes on one line (reqwest keeps the interesting part in the sources).
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn validate_events(events: Vec<String>) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for e in events {
        if e != "*" && EventType::parse(&e).is_none() {
            return Err(Error::invalid_field("events", format!("names an unknown event type {e:?}")));
        }
        if !out.contains(&e) {
            out.push(e);
        }
    }
    if out.is_empty() {
        return Err(Error::invalid_field("events", "must name at least one event type, or \"*\""));
    }
    if out.len() > 1 && out.iter().any(|e| e == "*") {
        return Err(Error::invalid_field("events", "must be [\"*\"] alone or a list of event types"));
    }
    Ok(out)
}

fn validate_description(d: Option<String>) -> Result<Option<String>> {
    match d {
        Some(d) if d.chars().count() > DESCRIPTION_MAX => {
            Err(Error::invalid_field("description", format!("must be at most {DESCRIPTION_MAX} characters")))
        }
        Some(d) if d.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

fn webhook_not_found() -> Error {
    Error::new(Code::WebhookNotFound, "Webhook not found.")
}

impl Core {
    /// A URL a webhook may use: the static checks, then (unless private addresses are allowed)
    /// the addresses its host resolves to now. A name that does not resolve yet is accepted:
    /// each delivery checks again.
    async fn checked_url(&self, raw: &str) -> Result<String> {
        if raw.len() > URL_MAX {
            return Err(Error::invalid_field("url", format!("must be at most {URL_MAX} characters")));
        }
        let url = check_url(raw, self.outbound.allow_private).map_err(|m| Error::invalid_field("url", m))?;
        if let (false, Some(url::Host::Domain(host))) = (self.outbound.allow_private, url.host()) {
            let lookup = tokio::time::timeout(std::time::Duration::from_secs(2), resolve_public(host)).await;
            if let Ok(Err(m)) = lookup {
                if !m.starts_with("cannot resolve") {
                    return Err(Error::invalid_field("url", m));
                }
            }
        }
        Ok(url.to_string())
    }

    pub async fn create_webhook(&self, tenant: Tenant, new: NewWebhook) -> Result<Webhook> {
        let events = validate_events(new.events)?;
        let description = validate_description(new.description)?;
        let url = self.checked_url(&new.url).await?;
        let now = self.clock.now();
        let hook = Webhook {
            seq: 0,
            id: crate::domain::ids::time_ordered(),
            workspace_id: tenant.id,
            url,
            description,
            events,
            secret: mint_secret(),
            previous_secret: None,
            previous_secret_until: None,
            enabled: true,
            failing_since: None,
            disabled_at: None,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.db.begin_write().await?;
        let hook = webhooks::insert(&mut tx, &hook).await?;
        tx.commit().await?;
        Ok(hook)
    }

    pub async fn list_webhooks(&self, tenant: Tenant, after_seq: Option<i64>, limit: i64) -> Result<Vec<Webhook>> {
        Ok(webhooks::list(&self.db, tenant.id, after_seq, limit).await?)
    }

    pub async fn get_webhook(&self, tenant: Tenant, id: Uuid) -> Result<Webhook> {
        let mut conn = self.db.pool.acquire().await?;
        webhooks::get(&mut conn, tenant.id, id, RowLock::None).await?.ok_or_else(webhook_not_found)
    }

    /// Changes a webhook; enabling it again starts its failure count afresh.
    pub async fn update_webhook(&self, tenant: Tenant, id: Uuid, patch: WebhookPatch) -> Result<Webhook> {
        let events = patch.events.map(validate_events).transpose()?;
        let description = patch.description.map(validate_description).transpose()?;
        let url = match &patch.url {
            Some(u) => Some(self.checked_url(u).await?),
            None => None,
        };
        self.change_webhook(tenant, id, |hook, now| {
            if let Some(u) = url {
                hook.url = u;
            }
            if let Some(e) = events {
                hook.events = e;
            }
            if let Some(d) = description {
                hook.description = d;
            }
            match patch.enabled {
                Some(true) if !hook.enabled => {
                    hook.enabled = true;
                    hook.disabled_at = None;
                    hook.failing_since = None;
                }
                Some(false) if hook.enabled => {
                    hook.enabled = false;
                    hook.disabled_at = Some(now);
                }
                _ => {}
            }
        })
        .await
    }

    /// A new secret; the old one keeps signing beside it for [`ROTATION_OVERLAP`].
    pub async fn rotate_webhook_secret(&self, tenant: Tenant, id: Uuid) -> Result<Webhook> {
        self.change_webhook(tenant, id, |hook, now| {
            hook.previous_secret = Some(std::mem::replace(&mut hook.secret, mint_secret()));
            hook.previous_secret_until = Some(now + ROTATION_OVERLAP);
        })
        .await
    }

    async fn change_webhook(&self, tenant: Tenant, id: Uuid, change: impl FnOnce(&mut Webhook, DateTime<Utc>)) -> Result<Webhook> {
        let mut tx = self.db.begin_write().await?;
        let mut hook = webhooks::get(&mut tx, tenant.id, id, self.db.for_update()).await?.ok_or_else(webhook_not_found)?;
        let now = self.clock.now();
        change(&mut hook, now);
        hook.updated_at = now;
        webhooks::update(&mut tx, &hook).await?;
        tx.commit().await?;
        Ok(hook)
    }

    pub async fn delete_webhook(&self, tenant: Tenant, id: Uuid) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        webhooks::get(&mut tx, tenant.id, id, self.db.for_update()).await?.ok_or_else(webhook_not_found)?;
        webhooks::delete(&mut tx, id).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_deliveries(&self, tenant: Tenant, webhook: Uuid, before_seq: Option<i64>, limit: i64) -> Result<Vec<Delivery>> {
        self.get_webhook(tenant, webhook).await?;
        Ok(webhooks::list_deliveries(&self.db, webhook, before_seq, limit).await?)
    }

    /// Sends a finished (delivered or failed) delivery again, with a fresh retry schedule.
    pub async fn retry_delivery(&self, tenant: Tenant, webhook: Uuid, delivery: Uuid) -> Result<Delivery> {
        let mut tx = self.db.begin_write().await?;
        let hook = webhooks::get(&mut tx, tenant.id, webhook, self.db.for_update()).await?.ok_or_else(webhook_not_found)?;
        let not_found = || Error::new(Code::DeliveryNotFound, "Delivery not found.");
        let d = webhooks::get_delivery(&mut tx, delivery).await?.filter(|d| d.webhook_id == webhook).ok_or_else(not_found)?;
        if !hook.enabled {
            return Err(Error::new(Code::WebhookDisabled, "The webhook is disabled; enable it before retrying its deliveries."));
        }
        if !webhooks::requeue_delivery(&mut tx, d.id, self.clock.now()).await? {
            return Err(Error::new(Code::DeliveryInProgress, "The delivery is still queued or being retried.")
                .with_details(serde_json::json!({ "status": d.status.as_str() })));
        }
        let d = webhooks::get_delivery(&mut tx, delivery).await?.ok_or_else(not_found)?;
        tx.commit().await?;
        Ok(d)
    }

    /// One attempt at a delivery (the `webhook_delivery` job): a 2xx answer delivers it; anything
    /// else is an error the job retries. A delivery that is over, or whose endpoint is gone or
    /// disabled, ends without a request.
    pub(crate) async fn attempt_delivery(&self, id: Uuid) -> Result<(), Cow<'static, str>> {
        let loaded = self.delivery_in_hand(id).await.map_err(|e| Cow::Owned(e.to_string()))?;
        let Some((delivery, hook, event)) = loaded else { return Ok(()) };
        let now = self.clock.now();
        let sent = self.send(&hook, &event, now).await;
        let (outcome, status, error) = match &sent {
            Ok(s) if (200..300).contains(s) => ("delivered", Some(*s), None),
            Ok(s) => ("rejected", Some(*s), Some(format!("the endpoint answered {s}"))),
            Err(e) => ("error", None, Some(e.clone())),
        };
        self.record_attempt(&delivery, status, error.as_deref(), now).await.map_err(|e| Cow::Owned(e.to_string()))?;
        self.metrics.webhook_delivery(outcome);
        match error {
            None => Ok(()),
            Some(e) => Err(e.into()),
        }
    }

    /// The delivery, its endpoint and its event when there is something to send.
    async fn delivery_in_hand(&self, id: Uuid) -> Result<Option<(Delivery, Webhook, Event)>> {
        let mut conn = self.db.pool.acquire().await?;
        let Some(d) = webhooks::get_delivery(&mut conn, id).await? else { return Ok(None) };
        if d.status != DeliveryStatus::Pending {
            return Ok(None);
        }
        let Some(hook) = webhooks::get(&mut conn, d.workspace_id, d.webhook_id, RowLock::None).await? else { return Ok(None) };
        let event = events::get(&mut conn, d.event_id).await?;
        drop(conn);
        let reason = match (&event, hook.enabled) {
            (_, false) => "the endpoint is disabled",
            (None, _) => "the event passed its retention period",
            (Some(event), true) => return Ok(Some((d, hook, event.clone()))),
        };
        let mut tx = self.db.begin_write().await?;
        webhooks::fail_delivery(&mut tx, d.id, Some(reason), self.clock.now()).await?;
        tx.commit().await?;
        Ok(None)
    }

    async fn send(&self, hook: &Webhook, event: &Event, now: DateTime<Utc>) -> std::result::Result<u16, String> {
        let url = check_url(&hook.url, self.outbound.allow_private)?;
        let body = serde_json::to_string(event).map_err(|e| e.to_string())?;
        let msg_id = event.id.to_string();
        let ts = now.timestamp();
        let signature: Vec<String> = hook.signing_secrets(now).into_iter().filter_map(|s| sign(s, &msg_id, ts, &body)).collect();
        let response = self
            .outbound
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", msg_id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature.join(" "))
            .body(body)
            .send()
            .await
            .map_err(|e| describe(&e.without_url()))?;
        Ok(response.status().as_u16())
    }

    /// Writes the attempt, and keeps the endpoint's failure streak: the first failure after a
    /// success starts it, a success ends it, and a streak of [`DISABLE_AFTER`] disables the
    /// endpoint, recorded as a `webhook.disabled` event.
    async fn record_attempt(&self, d: &Delivery, status: Option<u16>, error: Option<&str>, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        webhooks::record_attempt(&mut tx, d.id, error.is_none(), status, error, now).await?;
        let Some(mut hook) = webhooks::get(&mut tx, d.workspace_id, d.webhook_id, self.db.for_update()).await? else {
            tx.commit().await?;
            return Ok(());
        };
        let before = hook.clone();
        let mut disabled = false;
        match error {
            None => hook.failing_since = None,
            Some(_) => {
                let since = *hook.failing_since.get_or_insert(now);
                if hook.enabled && now - since >= DISABLE_AFTER {
                    (hook.enabled, hook.disabled_at, hook.updated_at, disabled) = (false, Some(now), now, true);
                    tracing::warn!(webhook = %hook.id, since = %since, "webhook failed every delivery for 5 days; disabled");
                }
            }
        }
        if hook != before {
            webhooks::update(&mut tx, &hook).await?;
        }
        // Recorded after the update, so the disabled endpoint is not sent its own news.
        if disabled {
            let mut event = Event::new(EventType::WebhookDisabled, hook.workspace_id, now, EventActor::worker());
            event.data = serde_json::value::to_raw_value(&WebhookView::from(&hook)).map_err(|e| Error::internal("event data", e))?;
            self.record_event(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_resolving_inside_the_network_are_refused() {
        let err = resolve_public("localhost").await.unwrap_err();
        assert!(err.contains("127.0.0.1") || err.contains("::1"), "{err}");
    }

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The example of the Standard Webhooks specification's reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(sign("no prefix", "id", 1, body), None);
    }
}

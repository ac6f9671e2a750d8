//! Laravel's `LengthAwarePaginator`, as Autocalls' lists render it: `page` and `per_page` in,
//! page numbers, absolute page URLs and the `links` window out.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use url::form_urlencoded;
use utoipa::{IntoParams, ToSchema};

use super::input::query_int;
use crate::error::Error;
use crate::http::extract::ApiQuery;
use crate::http::origin::PublicOrigin;
use crate::store::resources::Page;

pub const MAX_PER_PAGE: i64 = 100;
/// Pages shown either side of the current one before Laravel elides with "...".
const ON_EACH_SIDE: i64 = 3;

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::Paginated)]
pub struct Paginated<T> {
    pub current_page: i64,
    pub data: Vec<T>,
    pub first_page_url: String,
    pub from: Option<i64>,
    pub last_page: i64,
    pub last_page_url: String,
    pub links: Vec<Link>,
    pub next_page_url: Option<String>,
    pub path: String,
    pub per_page: i64,
    pub prev_page_url: Option<String>,
    pub to: Option<i64>,
    pub total: i64,
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::Link)]
pub struct Link {
    pub url: Option<String>,
    pub label: String,
    pub active: bool,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Default 1.
    #[param(value_type = Option<i64>, minimum = 1)]
    pub page: Option<String>,
    /// 1–100.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub per_page: Option<String>,
}

/// The page a request asks for, and how to link to others; `PER_PAGE` when it does not say.
pub struct PageRequest<const PER_PAGE: i64> {
    page: i64,
    per_page: i64,
    path: String,
    /// The request's query parameters but `page` (filters, `per_page`), kept in every page URL.
    query: Vec<(String, String)>,
}

impl<S: Send + Sync, const PER_PAGE: i64> FromRequestParts<S> for PageRequest<PER_PAGE> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let ApiQuery(q) = ApiQuery::<PageQuery>::from_request_parts(parts, state).await?;
        let per_page = query_int("per_page", q.per_page.as_deref())?.unwrap_or(PER_PAGE);
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(Error::invalid_field("per_page", format!("field must be between 1 and {MAX_PER_PAGE}")));
        }
        // Laravel reads a page that is not a positive integer as the first; refusing it keeps the
        // documented contract exact (and a client's paging bug visible).
        let page = query_int("page", q.page.as_deref())?.unwrap_or(1);
        if page < 1 {
            return Err(Error::invalid_field("page", "field must be at least 1"));
        }
        let query = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .filter(|(k, _)| k != "page")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Ok(PageRequest { page, per_page, path: format!("{}{}", origin(parts), parts.uri.path()), query })
    }
}

/// The public `scheme://host` for this request (see [`PublicOrigin`]).
fn origin(parts: &Parts) -> String {
    parts.extensions.get::<PublicOrigin>().cloned().unwrap_or_default().base(parts)
}

impl<const PER_PAGE: i64> PageRequest<PER_PAGE> {
    pub fn slice(&self) -> Page {
        Page::Offset { offset: (self.page - 1).saturating_mul(self.per_page), limit: self.per_page }
    }

    pub fn paginate<T>(self, data: Vec<T>, total: i64) -> Paginated<T> {
        let last_page = ((total + self.per_page - 1) / self.per_page).max(1);
        let current = self.page;
        let first_item = (current - 1).saturating_mul(self.per_page) + 1;
        let (from, to) = if data.is_empty() { (None, None) } else { (Some(first_item), Some(first_item + data.len() as i64 - 1)) };
        let prev_page_url = (current > 1).then(|| self.url(current - 1));
        let next_page_url = (current < last_page).then(|| self.url(current + 1));
        let mut links = vec![Link { url: prev_page_url.clone(), label: "&laquo; Previous".into(), active: false }];
        for (i, block) in window(current, last_page).into_iter().enumerate() {
            if i > 0 {
                links.push(Link { url: None, label: "...".into(), active: false });
            }
            links.extend(block.map(|p| Link { url: Some(self.url(p)), label: p.to_string(), active: p == current }));
        }
        links.push(Link { url: next_page_url.clone(), label: "Next &raquo;".into(), active: false });
        Paginated {
            current_page: current,
            data,
            first_page_url: self.url(1),
            from,
            last_page,
            last_page_url: self.url(last_page),
            links,
            next_page_url,
            path: self.path.clone(),
            per_page: self.per_page,
            prev_page_url,
            to,
            total,
        }
    }

    fn url(&self, page: i64) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.extend_pairs(&self.query);
        q.append_pair("page", &page.to_string());
        format!("{}?{}", self.path, q.finish())
    }
}

/// Laravel's `UrlWindow`: every page when there are few, else the first two, the pages around
/// the current one and the last two, in blocks separated by "...".
fn window(current: i64, last: i64) -> Vec<std::ops::RangeInclusive<i64>> {
    if last < ON_EACH_SIDE * 2 + 8 {
        return vec![1..=last];
    }
    let window = ON_EACH_SIDE + 4;
    if current <= window {
        vec![1..=window + ON_EACH_SIDE, last - 1..=last]
    } else if current > last - window {
        vec![1..=2, last - (window + ON_EACH_SIDE - 1)..=last]
    } else {
        vec![1..=2, current - ON_EACH_SIDE..=current + ON_EACH_SIDE, last - 1..=last]
    }
}

#[cfg(test)]
mod tests {
    use super::window;

    #[test]
    fn url_window_matches_laravel() {
        assert_eq!(window(1, 3), vec![1..=3]);
        assert_eq!(window(2, 20), vec![1..=10, 19..=20]);
        assert_eq!(window(10, 20), vec![1..=2, 7..=13, 19..=20]);
        assert_eq!(window(18, 20), vec![1..=2, 11..=20]);
    }
}

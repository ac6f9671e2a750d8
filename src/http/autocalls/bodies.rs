//! The dialect's request bodies, for the OpenAPI document only: handlers read bodies field by
//! field (see `input`) and accept and ignore every other Autocalls setting, so these schemas
//! allow other properties.
// Never read: the types only describe what `input::Body` reads.
#![allow(dead_code)]

use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = autocalls::AssistantType)]
pub enum AssistantType {
    Inbound,
    Outbound,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = autocalls::CreateAssistant)]
pub struct CreateAssistant {
    /// Not blank; at most 255 characters.
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AssistantType,
    /// A number of the workspace.
    pub phone_number_id: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = autocalls::UpdateAssistant)]
pub struct UpdateAssistant {
    /// Not blank; at most 255 characters.
    #[schema(min_length = 1, max_length = 255)]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<AssistantType>,
    /// `null` unassigns the number.
    pub phone_number_id: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = autocalls::CreateCampaign)]
pub struct CreateCampaign {
    /// Not blank; at most 255 characters.
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    /// The rotation: distinct numbers of the workspace.
    pub phone_number_ids: Option<Vec<i64>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = autocalls::CampaignAction)]
pub enum CampaignAction {
    Start,
    Stop,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = autocalls::UpdateCampaignStatus)]
pub struct UpdateCampaignStatus {
    pub campaign_id: i64,
    pub action: CampaignAction,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = autocalls::UpdatePhoneNumber)]
pub struct UpdatePhoneNumber {
    /// At most 50 characters; `null` or `""` clears it.
    #[schema(max_length = 50)]
    pub nickname: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = autocalls::PurchasePhoneNumber)]
pub struct PurchasePhoneNumber {
    /// E.164, e.g. `+14155551234`: a number the search returned.
    pub phone_number: String,
}

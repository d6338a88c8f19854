//! The per-endpoint lease in the ledger's table ([`crate::lease`] says how
//! long it lasts): taken by a conditional put, confirmed (and extended)
//! by a conditional update on its holder, given back by a conditional
//! delete. A holder is one attempt (its name is unique), so "still mine"
//! means no one took it since: every taking rewrites the holder, every
//! giving back deletes the item.

use super::dynamodb::{conditional, key, s, Ledger};
use super::AwsError;
use crate::lease::lease_until;
use crate::ledger::{LEASE_ENTRY, SORT_KEY};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use tracing::warn;

/// An endpoint's lease, held by this attempt ([`Ledger::take_lease`]).
#[derive(Debug)]
pub struct Lease<'a> {
    ledger: &'a Ledger,
    endpoint: String,
    holder: String,
    deadline: Option<DateTime<Utc>>,
}

impl Ledger {
    /// Takes the endpoint's lease until `until` unless someone else holds
    /// an unexpired one. `Ok(false)`: held by another.
    pub async fn acquire_lease(
        &self,
        endpoint: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, AwsError> {
        let mut item = key(endpoint, LEASE_ENTRY);
        item.insert("holder".into(), s(holder));
        item.insert("expires_at".into(), seconds(until));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#e) OR expires_at < :now OR holder = :me")
            .expression_attribute_names("#e", SORT_KEY)
            .expression_attribute_values(":now", seconds(now))
            .expression_attribute_values(":me", s(holder))
            .send()
            .await;
        conditional("PutItem", result)
    }

    /// Moves the lease's expiry to `until` if `holder` still has it (even
    /// lapsed: if no one took it meanwhile, no one acted). `Ok(false)`:
    /// someone else took it since, or it was given back.
    pub async fn renew_lease(
        &self,
        endpoint: &str,
        holder: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, AwsError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(endpoint, LEASE_ENTRY)))
            .condition_expression("holder = :me")
            .update_expression("SET expires_at = :until")
            .expression_attribute_values(":me", s(holder))
            .expression_attribute_values(":until", seconds(until))
            .send()
            .await;
        conditional("UpdateItem", result)
    }

    /// Gives the lease back, if `holder` still has it.
    pub async fn release_lease(&self, endpoint: &str, holder: &str) -> Result<(), AwsError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(endpoint, LEASE_ENTRY)))
            .condition_expression("holder = :me")
            .expression_attribute_values(":me", s(holder))
            .send()
            .await;
        conditional("DeleteItem", result).map(|_released| ())
    }

    /// Takes the endpoint's lease as `holder` for an invocation that ends
    /// at `deadline`, for as long as it may act ([`lease_until`]).
    /// `Ok(None)`: someone else holds it.
    pub async fn take_lease(
        &self,
        endpoint: &str,
        holder: &str,
        deadline: Option<DateTime<Utc>>,
    ) -> Result<Option<Lease<'_>>, AwsError> {
        let now = Utc::now();
        let taken = self
            .acquire_lease(endpoint, holder, now, lease_until(now, deadline))
            .await?;
        Ok(taken.then(|| Lease {
            ledger: self,
            endpoint: endpoint.to_string(),
            holder: holder.to_string(),
            deadline,
        }))
    }
}

impl Lease<'_> {
    /// `true` while the lease is still this attempt's, extended again to
    /// cover the rest of its invocation; `false`: it lapsed and someone
    /// else took it (or gave it back), so whatever this attempt planned
    /// under it may have been overtaken. Called before acting after a
    /// long step.
    pub async fn still_held(&self) -> Result<bool, AwsError> {
        let until = lease_until(Utc::now(), self.deadline);
        self.ledger
            .renew_lease(&self.endpoint, &self.holder, until)
            .await
    }

    /// Gives the lease back; if that fails, it lapses by itself.
    pub async fn give_back(self) {
        if let Err(e) = self
            .ledger
            .release_lease(&self.endpoint, &self.holder)
            .await
        {
            warn!(endpoint = %self.endpoint, error = %e, "lease not released; it lapses by itself");
        }
    }
}

/// A time as the lease item stores it: epoch seconds.
fn seconds(at: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N(at.timestamp().to_string())
}

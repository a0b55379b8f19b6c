//! Publishing the report to the subscribers' topic.

use aws_sdk_sns::Client;

use crate::domain::error::AwsError;
use crate::domain::render::Message;

pub async fn publish(
    client: &Client,
    topic_arn: &str,
    message: &Message,
) -> Result<String, AwsError> {
    let out = client
        .publish()
        .topic_arn(topic_arn)
        .subject(&message.subject)
        .message(&message.body)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("sns:Publish", e))?;
    Ok(out.message_id().unwrap_or_default().to_string())
}

//! The sweep queue and its results queue: sending jobs in batches, and
//! gathering the results for the summary.

use crate::domain::error::AwsError;

/// SQS's largest batch.
const BATCH: usize = 10;

/// Sends every body, ten to a batch. Returns how many SQS refused, with the
/// first reason.
pub(crate) async fn send_all(
    client: &aws_sdk_sqs::Client,
    url: &str,
    bodies: &[String],
) -> Result<(), AwsError> {
    for (n, chunk) in bodies.chunks(BATCH).enumerate() {
        let entries: Vec<aws_sdk_sqs::types::SendMessageBatchRequestEntry> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, body)| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(format!("m{}", n * BATCH + i))
                    .message_body(body)
                    .build()
                    .ok()
            })
            .collect();
        let out = client
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("sqs:SendMessageBatch", e))?;
        if let Some(f) = out.failed().first() {
            return Err(AwsError::new(
                "sqs:SendMessageBatch",
                f.code(),
                format!(
                    "{} of {} messages refused: {}",
                    out.failed().len(),
                    chunk.len(),
                    f.message().unwrap_or_default()
                ),
            ));
        }
    }
    Ok(())
}

/// Sends one body, visible after `delay_s` seconds.
pub async fn send(
    client: &aws_sdk_sqs::Client,
    url: &str,
    body: &str,
    delay_s: u32,
) -> Result<(), AwsError> {
    client
        .send_message()
        .queue_url(url)
        .message_body(body)
        .delay_seconds(i32::try_from(delay_s).unwrap_or(900))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("sqs:SendMessage", e))?;
    Ok(())
}

/// Takes every visible message whose body `keep` accepts off the queue, and
/// returns their bodies. The others stay hidden for a short while, then
/// reappear for whoever they belong to.
pub(crate) async fn take_matching(
    client: &aws_sdk_sqs::Client,
    url: &str,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<String>, AwsError> {
    let mut taken = Vec::new();
    // Bounded: a queue refilled faster than it is read must not keep the
    // summary from answering.
    for _ in 0..1000 {
        let out = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(BATCH as i32)
            .visibility_timeout(20)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("sqs:ReceiveMessage", e))?;
        let messages = out.messages();
        if messages.is_empty() {
            break;
        }
        let mut delete = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            let body = m.body().unwrap_or_default();
            if keep(body) {
                taken.push(body.to_string());
                if let Some(handle) = m.receipt_handle() {
                    delete.extend(
                        aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                            .id(format!("d{i}"))
                            .receipt_handle(handle)
                            .build()
                            .ok(),
                    );
                }
            }
        }
        if !delete.is_empty() {
            client
                .delete_message_batch()
                .queue_url(url)
                .set_entries(Some(delete))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("sqs:DeleteMessageBatch", e))?;
        }
    }
    Ok(taken)
}

//! Plain S3 with the standard AWS credential chain: `--store s3://BUCKET`
//! when no `R2_*` key pair is set. One identity reads and writes (nothing
//! of it can be published: GRAIL's commitments need an R2 read pair).
//!
//! The chain, in order: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
//! (`AWS_SESSION_TOKEN`), the shared profile files (`AWS_PROFILE`,
//! `AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`), a web identity token
//! (`AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN`), the container's
//! credentials (ECS, EKS pod identity) — and the EC2 instance metadata
//! service only when asked (`AWS_EC2_METADATA_DISABLED=false`): on any
//! other machine its probe would stall every first request for seconds.
//! The region is `R2_REGION`, `AWS_REGION` or `AWS_DEFAULT_REGION`
//! (default `us-east-1`); the endpoint `R2_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`, else AWS's own.

use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::web_identity_token::WebIdentityTokenCredentialsProvider;

use super::EndpointOverrides;
use crate::Error;

/// The `R2_*` variables of a key pair: when none is set, `s3://BUCKET`
/// takes the AWS chain.
pub const R2_PAIR_VARIABLES: [&str; 4] = [
    "R2_READ_ACCESS_KEY_ID",
    "R2_READ_SECRET_ACCESS_KEY",
    "R2_WRITE_ACCESS_KEY_ID",
    "R2_WRITE_SECRET_ACCESS_KEY",
];

/// The error when the chain finds no credentials.
pub const NO_CREDENTIALS: &str = "no credentials: set an R2 key pair (R2_READ_*/R2_WRITE_*), \
     or AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a web identity \
     token, a container's role; the instance metadata only with AWS_EC2_METADATA_DISABLED=false)";

/// Whether `env` holds no R2 key pair variable (so `s3://BUCKET` means
/// plain S3 with the AWS chain).
pub fn no_r2_pair(env: &dyn Fn(&str) -> Option<String>) -> bool {
    R2_PAIR_VARIABLES
        .iter()
        .all(|k| env(k).is_none_or(|v| v.trim().is_empty()))
}

/// Where the bucket is and how it is addressed, for the AWS chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsTarget {
    /// The endpoint URL.
    pub endpoint: String,
    /// The signing region.
    pub region: String,
    /// Path-style addressing.
    pub force_path_style: bool,
}

impl AwsTarget {
    /// The target from `env` (module docs).
    ///
    /// # Errors
    ///
    /// A malformed `R2_*` override, or an endpoint that is not `http(s)://`.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let overrides = EndpointOverrides::from_env(env)?;
        let first = |names: &[&str]| {
            names.iter().find_map(|n| {
                env(n)
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
            })
        };
        let region = overrides
            .region
            .clone()
            .or_else(|| first(&["AWS_REGION", "AWS_DEFAULT_REGION"]))
            .unwrap_or_else(|| "us-east-1".to_owned());
        let endpoint = match overrides
            .endpoint
            .clone()
            .or_else(|| first(&["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]))
        {
            Some(e) if e.starts_with("http://") || e.starts_with("https://") => {
                e.trim_end_matches('/').to_owned()
            }
            Some(_) => {
                return Err(Error::value(
                    "AWS_ENDPOINT_URL",
                    "must start with http:// or https://",
                ));
            }
            None => format!("https://s3.{region}.amazonaws.com"),
        };
        Ok(Self {
            endpoint,
            region,
            force_path_style: overrides.force_path_style,
        })
    }
}

/// The credential chain (module docs); the instance metadata service only
/// when `AWS_EC2_METADATA_DISABLED` is `false`.
pub fn credentials(env: &dyn Fn(&str) -> Option<String>) -> CredentialsProviderChain {
    let chain = CredentialsProviderChain::first_try(
        "Environment",
        EnvironmentVariableCredentialsProvider::new(),
    )
    .or_else("Profile", ProfileFileCredentialsProvider::builder().build())
    .or_else(
        "WebIdentityToken",
        WebIdentityTokenCredentialsProvider::builder().build(),
    )
    .or_else("EcsContainer", EcsCredentialsProvider::builder().build());
    let imds =
        env("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("false"));
    if imds {
        chain.or_else(
            "Ec2InstanceMetadata",
            ImdsCredentialsProvider::builder().build(),
        )
    } else {
        chain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_chain_is_for_a_bucket_without_r2_pairs() {
        assert!(no_r2_pair(&env_of(&[("AWS_ACCESS_KEY_ID", "AKIA")])));
        assert!(no_r2_pair(&env_of(&[("R2_READ_ACCESS_KEY_ID", " ")])));
        assert!(!no_r2_pair(&env_of(&[("R2_WRITE_ACCESS_KEY_ID", "k")])));
    }

    #[test]
    fn region_and_endpoint_from_r2_then_aws_names() {
        let t = AwsTarget::from_env(&env_of(&[])).unwrap();
        assert_eq!(t.endpoint, "https://s3.us-east-1.amazonaws.com");
        let t = AwsTarget::from_env(&env_of(&[("AWS_DEFAULT_REGION", "eu-west-3")])).unwrap();
        assert_eq!(
            (t.region.as_str(), t.endpoint.as_str()),
            ("eu-west-3", "https://s3.eu-west-3.amazonaws.com")
        );
        let t = AwsTarget::from_env(&env_of(&[
            ("AWS_REGION", "eu-west-3"),
            ("R2_REGION", "auto"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/"),
            ("R2_FORCE_PATH_STYLE", "true"),
        ]))
        .unwrap();
        assert_eq!(
            t,
            AwsTarget {
                endpoint: "http://127.0.0.1:9000".into(),
                region: "auto".into(),
                force_path_style: true,
            }
        );
        assert!(AwsTarget::from_env(&env_of(&[("AWS_ENDPOINT_URL", "ftp://x")])).is_err());
    }
}

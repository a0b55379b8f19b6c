//! Tests of what each kind's running resource is charged for (the
//! functions are in each kind's module, beside its record).

use crate::domain::burn::usage::{Charge, Component, Os, Product, Tenancy, WHOLE};
use crate::domain::kinds::ecs_service::{EcsService, TaskSize};
use crate::domain::kinds::fixtures::{db, ec2};
use crate::domain::kinds::redshift_cluster::RedshiftCluster;
use crate::domain::kinds::sagemaker::{Endpoint, Notebook, Variant};

#[test]
fn an_instance_is_one_hour_of_its_type_os_and_tenancy_while_it_runs() {
    use crate::domain::kinds::ec2_instance::charged;
    let mut i = ec2("i-1", &[]);
    i.instance_type = "g4dn.xlarge".into();
    let r = charged(&i, Os::Windows, Tenancy::Dedicated, "eu-west-1").unwrap();
    assert_eq!(r.region, "eu-west-1");
    assert_eq!(r.count, 1);
    assert_eq!(
        r.charges,
        [Charge {
            product: Product::Ec2 {
                instance_type: "g4dn.xlarge".into(),
                os: Os::Windows,
                tenancy: Tenancy::Dedicated,
                spot: false,
            },
            quantity: WHOLE,
        }]
    );
    i.spot_request_id = Some("sir-1".into());
    let spot = charged(&i, Os::Linux, Tenancy::Shared, "eu-west-1").unwrap();
    assert!(matches!(
        spot.charges[0].product,
        Product::Ec2 { spot: true, .. }
    ));
    for state in ["stopped", "stopping", "terminated", "shutting-down"] {
        i.state = state.into();
        assert_eq!(
            charged(&i, Os::Linux, Tenancy::Shared, "r"),
            None,
            "{state}"
        );
    }
    i.state = "pending".into();
    assert!(charged(&i, Os::Linux, Tenancy::Shared, "r").is_some());
}

#[test]
fn a_database_is_billed_unless_stopped_or_going() {
    use crate::domain::kinds::db_instance::charged;
    let mut d = db("app", &[]);
    let r = charged(&d, true, "us-east-1").unwrap();
    assert_eq!(
        r.charges[0].product,
        Product::Rds {
            class: "db.t3.micro".into(),
            engine: "postgres".into(),
            multi_az: true
        }
    );
    for status in ["backing-up", "modifying", "stopping", "starting"] {
        d.status = status.into();
        assert!(charged(&d, false, "r").is_some(), "{status}");
    }
    for status in ["stopped", "deleting", "failed", "creating"] {
        d.status = status.into();
        assert_eq!(charged(&d, false, "r"), None, "{status}");
    }
}

#[test]
fn notebooks_endpoints_and_clusters_count_their_instances_and_nodes() {
    let mut n = Notebook {
        name: "thesis".into(),
        arn: "arn:aws:sagemaker:us-east-1:1:notebook-instance/thesis".into(),
        instance_type: "ml.p3.2xlarge".into(),
        status: "InService".into(),
        tags: vec![],
    };
    let r = n.charged("us-east-1").unwrap();
    assert_eq!(
        r.charges[0].product,
        Product::SageMaker {
            instance_type: "ml.p3.2xlarge".into(),
            component: Component::Notebook
        }
    );
    n.status = "Stopped".into();
    assert_eq!(n.charged("us-east-1"), None);

    let mut e = Endpoint {
        name: "llm".into(),
        arn: "arn:aws:sagemaker:us-east-1:1:endpoint/llm".into(),
        status: "InService".into(),
        variants: vec![
            Variant {
                instance_type: "ml.g5.xlarge".into(),
                count: 3,
            },
            Variant {
                instance_type: String::new(),
                count: 0,
            },
        ],
        tags: vec![],
    };
    let r = e.charged("us-east-1").unwrap();
    assert_eq!(r.count, 3);
    assert_eq!(r.charges.len(), 1, "a serverless variant adds nothing");
    assert_eq!(r.charges[0].quantity, 3 * WHOLE);
    assert!(matches!(
        r.charges[0].product,
        Product::SageMaker {
            component: Component::Hosting,
            ..
        }
    ));
    e.variants.remove(0);
    assert_eq!(
        e.charged("us-east-1"),
        None,
        "serverless only: not billed by the hour"
    );
    // Being updated, its variants not read: listed, its price unknown.
    e.status = "Updating".into();
    let serverless = e.variants.clone();
    e.variants.clear();
    assert!(e.charged("us-east-1").unwrap().charges.is_empty());
    e.variants = serverless;
    e.status = "Creating".into();
    assert_eq!(e.charged("us-east-1"), None);

    let mut c = RedshiftCluster {
        id: "dw".into(),
        node_type: "dc2.large".into(),
        nodes: 4,
        status: "available".into(),
        tags: vec![],
    };
    let r = c.charged("eu-west-1").unwrap();
    assert_eq!((r.count, r.charges[0].quantity), (4, 4 * WHOLE));
    c.status = "paused".into();
    assert_eq!(c.charged("eu-west-1"), None);
}

#[test]
fn a_fargate_service_is_its_running_tasks_vcpu_and_memory() {
    let mut s = EcsService {
        arn: "arn:aws:ecs:us-east-1:1:service/prod/web".into(),
        name: "web".into(),
        cluster: "prod".into(),
        desired: 3,
        running: 2,
        launch_type: "FARGATE".into(),
        task_definition: Some("arn:aws:ecs:us-east-1:1:task-definition/web:3".into()),
        target: None,
        tags: vec![],
    };
    let size = TaskSize {
        cpu_units: 512,
        memory_mib: 1024,
        arm: true,
    };
    let r = s.charged(Some(size), "us-east-1").unwrap();
    assert_eq!(r.count, 2, "the running tasks, not the desired");
    assert_eq!(
        r.charges,
        [
            Charge {
                product: Product::FargateVcpu { arm: true },
                quantity: 1024
            },
            Charge {
                product: Product::FargateGb { arm: true },
                quantity: 2048
            },
        ]
    );
    assert_eq!(r.resource.size, "2 x Fargate 0.5 vCPU, 1 GB");
    // Its size unknown: listed with no charge (priced unknown, never $0).
    assert!(s.charged(None, "us-east-1").unwrap().charges.is_empty());
    // On EC2 capacity its cost is the instances'; with nothing running, none.
    s.launch_type = "EC2".into();
    assert_eq!(s.charged(Some(size), "us-east-1"), None);
    s.launch_type = "FARGATE_SPOT".into();
    assert!(s.charged(Some(size), "us-east-1").is_some());
    s.running = 0;
    assert_eq!(s.charged(Some(size), "us-east-1"), None);
}

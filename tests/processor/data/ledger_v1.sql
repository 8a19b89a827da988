BEGIN TRANSACTION;
CREATE TABLE call_totals (
    workflow_id TEXT NOT NULL, feature_id TEXT NOT NULL, tenant_id TEXT NOT NULL,
    service_name TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
    status TEXT NOT NULL, reason TEXT NOT NULL,
    requests INTEGER NOT NULL,
    tokens_input INTEGER NOT NULL, tokens_cache_read INTEGER NOT NULL,
    tokens_cache_write INTEGER NOT NULL, tokens_output INTEGER NOT NULL,
    cost_input TEXT NOT NULL, cost_cache_read TEXT NOT NULL, cost_cache_write TEXT NOT NULL,
    cost_output TEXT NOT NULL,
    first_seq INTEGER NOT NULL, first_time_ns INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, feature_id, tenant_id, service_name, provider, model, status, reason)
);
INSERT INTO "call_totals" VALUES('wf0','unattributed','unattributed','checkout','openai','gpt-4o-2024-08-06','ok','',3,2406,600,0,300,'0.006015','0.00075','0','0.003',1,1735689600000000000);
INSERT INTO "call_totals" VALUES('wf1','unattributed','unattributed','checkout','openai','gpt-4o-2024-08-06','ok','',2,1604,400,0,200,'0.0040100','0.00050','0','0.002',2,1735689660000000000);
INSERT INTO "call_totals" VALUES('support','unattributed','unattributed','checkout','openai','gpt-4o-2024-08-06','ok','',1,805,200,0,100,'0.0020125','0.00025','0','0.001',6,0);
INSERT INTO "call_totals" VALUES('support','unattributed','unattributed','checkout','openai','gpt-4o-2024-08-06','ok','no_usage',1,0,0,0,0,'0','0','0','0',7,1735689960000000000);
CREATE TABLE calls (
    seq INTEGER PRIMARY KEY,
    time_ns INTEGER NOT NULL, end_time_ns INTEGER NOT NULL,
    span_key BLOB NOT NULL UNIQUE,  -- trace_id || span_id: a redelivered span
    call_key BLOB UNIQUE,           -- trace_id || response_id (UTF-8): the same call on a second span
    workflow_id TEXT NOT NULL, feature_id TEXT NOT NULL, tenant_id TEXT NOT NULL,
    service_name TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
    user_id TEXT, service_instance_id TEXT, request_model TEXT, operation TEXT, service_tier TEXT,
    batch INTEGER NOT NULL, status TEXT NOT NULL,
    tokens_input INTEGER, tokens_cache_read INTEGER, tokens_cache_write INTEGER,
    tokens_cache_write_1h INTEGER, tokens_output INTEGER, tokens_reasoning INTEGER,
    cost_input TEXT, cost_cache_read TEXT, cost_cache_write TEXT, cost_output TEXT, cost_total TEXT,
    pricing_source TEXT, unpriced_reason TEXT, unpriced_detail TEXT, usage_error TEXT,
    estimated INTEGER NOT NULL, error_type TEXT, source TEXT NOT NULL
);
INSERT INTO "calls" VALUES(1,1735689600000000000,1735689601000000000,X'000000000000000000000000000003E80000000000000001',X'000000000000000000000000000003E863686174636D706C2D76312D30','wf0','unattributed','unattributed','checkout','openai','gpt-4o-2024-08-06',NULL,NULL,'gpt-4o','chat',NULL,0,'ok',800,200,0,0,100,0,'0.002','0.00025','0','0.001','0.00325','v1-fixture',NULL,NULL,NULL,0,NULL,'costline');
INSERT INTO "calls" VALUES(2,1735689660000000000,1735689661000000000,X'000000000000000000000000000003E90000000000000002',X'000000000000000000000000000003E963686174636D706C2D76312D31','wf1','unattributed','unattributed','checkout','openai','gpt-4o-2024-08-06',NULL,NULL,'gpt-4o','chat',NULL,0,'ok',801,200,0,0,100,0,'0.0020025','0.00025','0','0.001','0.0032525','v1-fixture',NULL,NULL,NULL,0,NULL,'costline');
INSERT INTO "calls" VALUES(3,1735689720000000000,1735689721000000000,X'000000000000000000000000000003EA0000000000000003',X'000000000000000000000000000003EA63686174636D706C2D76312D32','wf0','unattributed','unattributed','checkout','openai','gpt-4o-2024-08-06',NULL,NULL,'gpt-4o','chat',NULL,0,'ok',802,200,0,0,100,0,'0.002005','0.00025','0','0.001','0.003255','v1-fixture',NULL,NULL,NULL,0,NULL,'costline');
INSERT INTO "calls" VALUES(4,1735689780000000000,1735689781000000000,X'000000000000000000000000000003EB0000000000000004',X'000000000000000000000000000003EB63686174636D706C2D76312D33','wf1','unattributed','unattributed','checkout','openai','gpt-4o-2024-08-06',NULL,NULL,'gpt-4o','chat',NULL,0,'ok',803,200,0,0,100,0,'0.0020075','0.00025','0','0.001','0.0032575','v1-fixture',NULL,NULL,NULL,0,NULL,'costline');
INSERT INTO "calls" VALUES(5,1735689840000000000,1735689841000000000,X'000000000000000000000000000003EC0000000000000005',X'000000000000000000000000000003EC63686174636D706C2D76312D34','wf0','unattributed','unattributed','checkout','openai','gpt-4o-2024-08-06',NULL,NULL,'gpt-4o','chat',NULL,0,'ok',804,200,0,0,100,0,'0.00201','0.00025','0','0.001','0.00326','v1-fixture',NULL,NULL,NULL,0,NULL,'costline');
INSERT INTO "calls" VALUES(7,1735689960000000000,1735689961000000000,X'000000000000000000000000000003EE0000000000000007',X'000000000000000000000000000003EE63686174636D706C2D76312D36','support','unattributed','unattributed','checkout','openai','gpt-4o-2024-08-06',NULL,NULL,'gpt-4o','chat',NULL,0,'ok',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'no_usage','none',NULL,0,NULL,'costline');
INSERT INTO "calls" VALUES(9,4611686018427387904,4611686019427387904,X'000000000000000000000000000003EF0000000000000008',X'000000000000000000000000000003EF63686174636D706C2D76312D37','support','unattributed','unattributed','checkout','openai','gpt-4o-2024-08-06',NULL,NULL,'gpt-4o','chat',NULL,0,'ok',807,200,0,0,100,0,'0.0020175','0.00025','0','0.001','0.0032675','v1-fixture',NULL,NULL,NULL,0,NULL,'costline');
INSERT INTO "calls" VALUES(10,0,1000000000,X'000000000000000000000000000003F00000000000000009',X'000000000000000000000000000003F063686174636D706C2D76312D38','support','unattributed','unattributed','checkout','openai','gpt-4o-2024-08-06',NULL,NULL,'gpt-4o','chat',NULL,0,'ok',808,200,0,0,100,0,'0.00202','0.00025','0','0.001','0.00327','v1-fixture',NULL,NULL,NULL,0,NULL,'costline');
INSERT INTO "calls" VALUES(11,1735690140000000000,1735690141000000000,X'000000000000000000000000000003F1000000000000000A',X'000000000000000000000000000003F163686174636D706C2D76312D39','support','unattributed','unattributed','checkout','openai','gpt-4o-2024-08-06',NULL,NULL,'gpt-4o','chat',NULL,0,'ok',809,200,0,0,100,0,'0.0020225','0.00025','0','0.001','0.0032725','v1-fixture',NULL,NULL,NULL,0,NULL,'costline');
INSERT INTO "calls" VALUES(12,1735690200000000000,1735690201000000000,X'000000000000000000000000000003F2000000000000000B',X'000000000000000000000000000003F263686174636D706C2D76312D3130','support','unattributed','unattributed','checkout','openai','gpt-4o-2024-08-06',NULL,NULL,'gpt-4o','chat',NULL,0,'ok',810,200,0,0,100,0,'0.002025','0.00025','0','0.001','0.003275','v1-fixture',NULL,NULL,NULL,0,NULL,'costline');
INSERT INTO "calls" VALUES(13,1735690260000000000,1735690261000000000,X'000000000000000000000000000003F3000000000000000C',X'000000000000000000000000000003F363686174636D706C2D76312D3131','support','unattributed','unattributed','checkout','openai','gpt-4o-2024-08-06',NULL,NULL,'gpt-4o','chat',NULL,0,'ok',811,200,0,0,100,0,'0.0020275','0.00025','0','0.001','0.0032775','v1-fixture',NULL,NULL,NULL,0,NULL,'costline');
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO "meta" VALUES('instance_id','9a2e1be262cd4db693289c7e5e86bf30');
INSERT INTO "meta" VALUES('created_ns','1735689600000000000');
INSERT INTO "meta" VALUES('checkpoint_seq','8');
INSERT INTO "meta" VALUES('first_record_ns','1735689600000000000');
CREATE TABLE outcome_totals (
    workflow_id TEXT NOT NULL, outcome TEXT NOT NULL, count INTEGER NOT NULL,
    first_seq INTEGER NOT NULL, first_time_ns INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, outcome)
);
INSERT INTO "outcome_totals" VALUES('support','won',3,8,1735689600000000000);
CREATE TABLE outcomes (
    seq INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, span_key BLOB NOT NULL UNIQUE,
    trace_id BLOB NOT NULL, span_id BLOB NOT NULL,
    workflow_id TEXT NOT NULL, outcome TEXT NOT NULL, count INTEGER NOT NULL, service_name TEXT NOT NULL
);
INSERT INTO "outcomes" VALUES(8,1735689600000000000,X'6F6F6F6F6F6F6F6F6F6F6F6F6F6F6F6F3131313131313131',X'6F6F6F6F6F6F6F6F6F6F6F6F6F6F6F6F',X'3131313131313131','support','won',2,'unknown_service');
INSERT INTO "outcomes" VALUES(14,0,X'6F6F6F6F6F6F6F6F6F6F6F6F6F6F6F6F3232323232323232',X'6F6F6F6F6F6F6F6F6F6F6F6F6F6F6F6F',X'3232323232323232','support','won',1,'unknown_service');
CREATE TABLE purged_call_totals (
    workflow_id TEXT NOT NULL, feature_id TEXT NOT NULL, tenant_id TEXT NOT NULL,
    service_name TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
    status TEXT NOT NULL, reason TEXT NOT NULL,
    requests INTEGER NOT NULL,
    tokens_input INTEGER NOT NULL, tokens_cache_read INTEGER NOT NULL,
    tokens_cache_write INTEGER NOT NULL, tokens_output INTEGER NOT NULL,
    cost_input TEXT NOT NULL, cost_cache_read TEXT NOT NULL, cost_cache_write TEXT NOT NULL,
    cost_output TEXT NOT NULL,
    first_seq INTEGER NOT NULL, first_time_ns INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, feature_id, tenant_id, service_name, provider, model, status, reason)
);
INSERT INTO "purged_call_totals" VALUES('support','unattributed','unattributed','checkout','openai','gpt-4o-2024-08-06','ok','',1,805,200,0,100,'0.0020125','0.00025','0','0.001',6,0);
CREATE TABLE purged_outcome_totals (
    workflow_id TEXT NOT NULL, outcome TEXT NOT NULL, count INTEGER NOT NULL,
    first_seq INTEGER NOT NULL, first_time_ns INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, outcome)
);
CREATE INDEX calls_time ON calls (time_ns);
CREATE INDEX outcomes_time ON outcomes (time_ns);
COMMIT;
PRAGMA user_version=1;

// Drives kafkajs 2.2.4 for the Kafka integration tests (kafka_support.kafkajs()): reads one JSON
// command from stdin, runs it against the bootstrap address given as the only argument, and
// prints one JSON result line on stdout. Bytes travel as base64; kafkajs logs go to stderr.
// Every wait is bounded by the command's timeoutMs.
'use strict';

const { Kafka, CompressionTypes, logLevel } = require('kafkajs');

const bootstrap = process.argv[2];

function toStderr() {
  return ({ level, log }) => {
    const { message, ...extra } = log;
    process.stderr.write(`[kafkajs ${level}] ${message} ${JSON.stringify(extra)}\n`);
  };
}

const kafka = new Kafka({
  clientId: 'esmd-test',
  brokers: [bootstrap],
  logLevel: logLevel.WARN,
  logCreator: toStderr,
  retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
});

const b64 = (buf) => (buf === null || buf === undefined ? null : Buffer.from(buf).toString('base64'));
const unb64 = (s) => (s === null || s === undefined ? null : Buffer.from(s, 'base64'));

function describeError(e) {
  return {
    name: e.name, message: e.message, type: e.type, code: e.code,
    errors: Array.isArray(e.errors) ? e.errors.map(describeError) : undefined,
  };
}

function deadline(ms, what) {
  let timer;
  const promise = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

async function within(ms, what, fn) {
  const d = deadline(ms, what);
  try {
    return await Promise.race([fn(), d.promise]);
  } finally {
    d.cancel();
  }
}

// Polls cond() every 50 ms until it is true or ms pass.
async function waitFor(ms, what, cond) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function row(topic, partition, m) {
  const headers = [];
  for (const [k, v] of Object.entries(m.headers || {})) {
    for (const one of Array.isArray(v) ? v : [v]) headers.push([k, b64(one)]);
  }
  return { topic, partition, offset: m.offset, key: b64(m.key), value: b64(m.value), headers, timestamp: m.timestamp };
}

// {messages: [{key, value, headers: [[k, v]], timestamp, partition}], topic, idempotent,
//  compression: "gzip"|"none", acks} -> {results: [[{partition, baseOffset, errorCode}]]}
// Each send() is one request per partition, so a message's offset is its batch's base offset
// plus its index in that send.
async function produce(cmd) {
  const producer = kafka.producer(cmd.idempotent ? { idempotent: true, maxInFlightRequests: 1 } : {});
  await producer.connect();
  try {
    const results = [];
    const per = cmd.perSend || cmd.messages.length;
    for (let i = 0; i < cmd.messages.length; i += per) {
      const messages = cmd.messages.slice(i, i + per).map((m) => ({
        key: unb64(m.key), value: unb64(m.value), partition: m.partition || 0,
        headers: Object.fromEntries((m.headers || []).map(([k, v]) => [k, unb64(v)])),
        ...(m.timestamp ? { timestamp: String(m.timestamp) } : {}),
      }));
      const sent = await producer.send({
        topic: cmd.topic, messages, acks: cmd.acks === undefined ? -1 : cmd.acks,
        compression: cmd.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
      });
      results.push(sent.map((r) => ({ partition: r.partition, baseOffset: r.baseOffset, errorCode: r.errorCode })));
    }
    return { results };
  } finally {
    await producer.disconnect();
  }
}

// {topics: {name: count}, group, timeoutMs} -> {records: {topic: [row]}}: one group member that
// reads every topic from the beginning until it has count records of each.
async function consume(cmd) {
  const consumer = kafka.consumer({ groupId: cmd.group, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
  const records = Object.fromEntries(Object.keys(cmd.topics).map((t) => [t, []]));
  await consumer.connect();
  try {
    for (const topic of Object.keys(cmd.topics)) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => { records[topic].push(row(topic, partition, message)); },
    });
    await waitFor(cmd.timeoutMs || 60000, 'the records',
      () => Object.entries(cmd.topics).every(([t, n]) => records[t].length >= n));
    return { records };
  } finally {
    await consumer.disconnect();
  }
}

// {topic, group, timeoutMs}: member a alone, then a and b sharing the partitions, then b leaves
// and a is alone again. -> {alone, shared: {a, b}, after, offsets}; assignments are partition
// lists as the GROUP_JOIN events reported them; offsets are the group's committed offsets
// (admin.fetchOffsets) once a has read every record.
async function group(cmd) {
  const ms = cmd.timeoutMs || 60000;
  const members = {};
  const make = async (name) => {
    const c = kafka.consumer({ groupId: cmd.group, heartbeatInterval: 300, sessionTimeout: 10000,
      rebalanceTimeout: 20000, maxWaitTimeInMs: 200 });
    const state = { consumer: c, assigned: null, seen: new Set() };
    c.on(c.events.GROUP_JOIN, (e) => { state.assigned = (e.payload.memberAssignment[cmd.topic] || []).slice().sort(); });
    await c.connect();
    await c.subscribe({ topic: cmd.topic, fromBeginning: true });
    await c.run({ eachMessage: async ({ partition, message }) => { state.seen.add(`${partition}:${message.offset}`); } });
    members[name] = state;
    return state;
  };
  const all = (s) => s.assigned && s.assigned.length === cmd.partitions;
  try {
    const a = await make('a');
    await waitFor(ms, 'member a assigned every partition', () => all(a));
    const alone = a.assigned;
    const b = await make('b');
    await waitFor(ms, 'a and b sharing the partitions', () => a.assigned && b.assigned && a.assigned.length > 0
      && b.assigned.length > 0 && a.assigned.length + b.assigned.length === cmd.partitions
      && a.assigned.every((p) => !b.assigned.includes(p)));
    const shared = { a: a.assigned, b: b.assigned };
    await b.consumer.disconnect();
    delete members.b;
    await waitFor(ms, 'member a assigned every partition after b left', () => all(a));
    const after = a.assigned;
    await waitFor(ms, 'member a reading every record', () => a.seen.size + b.seen.size >= cmd.records
      && [...Array(cmd.partitions).keys()].every((p) => a.seen.has(`${p}:${cmd.records / cmd.partitions - 1}`)));
    const admin = kafka.admin();
    await admin.connect();
    let offsets;
    try {
      const expected = cmd.records / cmd.partitions;
      // Auto-commit runs every 5 s or on the next fetch: wait until every partition's commit is there.
      const end = Date.now() + ms;
      for (;;) {
        offsets = await admin.fetchOffsets({ groupId: cmd.group, topics: [cmd.topic] });
        const parts = offsets[0].partitions;
        if (parts.every((p) => Number(p.offset) === expected) || Date.now() > end) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await admin.disconnect();
    }
    return { alone, shared, after, offsets };
  } finally {
    for (const m of Object.values(members)) await m.consumer.disconnect();
  }
}

// {calls: [{call, args}]} -> {results: [{ok: value} | {error}]}: admin calls in order.
async function admin(cmd) {
  const a = kafka.admin();
  await a.connect();
  try {
    const results = [];
    for (const { call, args } of cmd.calls) {
      try {
        results.push({ ok: (await a[call](args)) ?? null });
      } catch (e) {
        results.push({ error: describeError(e) });
      }
    }
    return { results };
  } finally {
    await a.disconnect();
  }
}

const ops = { produce, consume, group, admin };

async function main() {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const cmd = JSON.parse(input);
  const result = await within(cmd.timeoutMs ? cmd.timeoutMs + 30000 : 90000, cmd.op, () => ops[cmd.op](cmd));
  // Writes to a pipe are asynchronous: exit only once the whole result (often more than the
  // pipe's 64 KiB) has been handed to it.
  await new Promise((resolve) => process.stdout.write(`${JSON.stringify(result)}\n`, resolve));
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(`${e.stack || e}\n${JSON.stringify(describeError(e))}\n`);
  process.exit(1);
});

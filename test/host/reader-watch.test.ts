// The agent's watch on a pending signature's card reader (src/host/reader-watch.ts), played
// with a reader whose state the test sets: what counts as the card leaving, and what does not.
import assert from 'node:assert/strict';
import test from 'node:test';
import type { PcscReaderState } from '../../src/native';
import { ReaderWatch } from '../../src/host/reader-watch';

const BLOB = Buffer.from('key-in-reader');
const READER = 'Test Reader 00 00';

function reader(initial: PcscReaderState | null) {
  const r = { state: initial, asked: 0, names: [] as string[] };
  const read = async (name: string) => {
    r.asked++;
    r.names.push(name);
    return r.state && { ...r.state };
  };
  return { r, read };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((res) => setTimeout(res, 5));
  }
}

for (const [how, after, said] of [
  ['pulled out', { present: false, events: 2 }, /was pulled out/],
  ['pulled and put back between two looks', { present: true, events: 3 }, /was pulled and put back/],
] as const) {
  test(`a card ${how} while a signature is pending is reported once, after the grace`, async () => {
    const { r, read } = reader({ present: true, events: 1 });
    const watch = new ReaderWatch({ read, pollMs: 10, graceMs: 60 });
    watch.loaded([{ blob: BLOB, slot: READER }]);
    const stuck: string[] = [];
    const end = watch.follow(BLOB, (why) => stuck.push(why));
    await until(() => r.asked >= 3, 2000, 'a few looks at the reader');
    assert.deepEqual(stuck, [], 'nothing while the card stays');
    r.state = after;
    const changed = Date.now();
    await until(() => stuck.length > 0, 2000, 'the watch to report the card');
    assert.ok(Date.now() - changed >= 60, 'a module that answers within the grace is not taken as stuck');
    assert.match(stuck[0], said);
    assert.match(stuck[0], /"Test Reader 00 00"/);
    const asked = r.asked;
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(r.asked, asked, 'it stops asking once it has reported');
    assert.equal(stuck.length, 1);
    end();
    assert.ok(r.names.every((n) => n === READER));
  });
}

test('a signature that ends stops the watch, and a card leaving afterwards is not reported', async () => {
  const { r, read } = reader({ present: true, events: 1 });
  const watch = new ReaderWatch({ read, pollMs: 10, graceMs: 20 });
  watch.loaded([{ blob: BLOB, slot: READER }]);
  const stuck: string[] = [];
  const end = watch.follow(BLOB, (why) => stuck.push(why));
  await until(() => r.asked >= 2, 2000, 'a look at the reader');
  end();
  r.state = { present: false, events: 2 };
  const asked = r.asked;
  await new Promise((res) => setTimeout(res, 80));
  assert.deepEqual(stuck, []);
  assert.ok(r.asked <= asked + 1, 'at most the look already under way');
});

test('a card already out when the signature starts counts, once the grace has passed', async () => {
  const { read } = reader({ present: false, events: 4 });
  const watch = new ReaderWatch({ read, pollMs: 10, graceMs: 40 });
  watch.loaded([{ blob: BLOB, slot: READER }]);
  const stuck: string[] = [];
  const end = watch.follow(BLOB, (why) => stuck.push(why));
  await until(() => stuck.length > 0, 2000, 'the report');
  end();
  assert.match(stuck[0], /was pulled out/);
});

test('keys with no slot description, or a slot pcscd does not know, are not watched', async () => {
  const { r, read } = reader(null);
  const watch = new ReaderWatch({ read, pollMs: 10, graceMs: 10 });
  watch.loaded([
    { blob: BLOB, slot: 'SoftHSM slot ID 0x1' },
    { blob: Buffer.from('no-slot'), slot: '' },
  ]);
  const stuck: string[] = [];
  const end1 = watch.follow(Buffer.from('no-slot'), (why) => stuck.push(why));
  const end2 = watch.follow(Buffer.from('never-loaded'), (why) => stuck.push(why));
  assert.equal(r.asked, 0, 'nothing to ask for a key with no slot');
  const end3 = watch.follow(BLOB, (why) => stuck.push(why));
  await until(() => r.asked >= 1, 2000, 'the one question');
  await new Promise((res) => setTimeout(res, 60));
  assert.equal(r.asked, 1, 'a reader pcscd does not know is asked about once');
  assert.deepEqual(stuck, []);
  for (const end of [end1, end2, end3]) end();
});

test('signatures waiting on one reader share each question to pcscd', async () => {
  let release!: () => void;
  let asked = 0;
  const read = (): Promise<PcscReaderState | null> => {
    asked++;
    return new Promise((res) => (release = () => res({ present: true, events: 1 })));
  };
  const watch = new ReaderWatch({ read, pollMs: 1000, graceMs: 10 });
  watch.loaded([{ blob: BLOB, slot: READER }]);
  const ends = [1, 2, 3].map(() => watch.follow(BLOB, () => undefined));
  assert.equal(asked, 1);
  release();
  for (const end of ends) end();
});

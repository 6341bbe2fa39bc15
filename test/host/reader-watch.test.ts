// The agent's watch on a pending signature's card reader (src/host/reader-watch.ts), played
// with a reader whose state the test sets: what counts as the card leaving, and what does not.
import assert from 'node:assert/strict';
import test from 'node:test';
import type { PcscReaderState } from '../../src/native';
import { ReaderWatch } from '../../src/host/reader-watch';
import { waitUntil } from '../helpers/wait';

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

/** One signature with BLOB pending, its key loaded in `slot`, watched with a reader the test sets. */
function watching(initial: PcscReaderState | null, timing: { pollMs: number; graceMs: number }, slot = READER) {
  const { r, read } = reader(initial);
  const watch = new ReaderWatch({ read, ...timing });
  watch.loaded([{ blob: BLOB, slot }]);
  const stuck: string[] = [];
  const end = watch.follow(BLOB, (why) => stuck.push(why));
  return { r, stuck, end };
}

for (const [how, after, said] of [
  ['pulled out', { known: true, present: false, events: 2 }, /was pulled out/],
  ['pulled and put back between two looks', { known: true, present: true, events: 3 }, /was pulled and put back/],
  ['gone with its reader (a USB token is its own reader)', { known: false, present: false, events: 0 }, /went away with its reader/],
] as const) {
  test(`a card ${how} while a signature is pending is reported once, after the grace`, async () => {
    const { r, stuck, end } = watching({ known: true, present: true, events: 1 }, { pollMs: 10, graceMs: 60 });
    await waitUntil(() => r.asked >= 3, 2000, 'a few looks at the reader');
    assert.deepEqual(stuck, [], 'nothing while the card stays');
    r.state = after;
    const changed = Date.now();
    await waitUntil(() => stuck.length > 0, 2000, 'the watch to report the card');
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
  const { r, stuck, end } = watching({ known: true, present: true, events: 1 }, { pollMs: 10, graceMs: 20 });
  await waitUntil(() => r.asked >= 2, 2000, 'a look at the reader');
  end();
  r.state = { known: true, present: false, events: 2 };
  const asked = r.asked;
  await new Promise((res) => setTimeout(res, 80));
  assert.deepEqual(stuck, []);
  assert.ok(r.asked <= asked + 1, 'at most the look already under way');
});

test('a card already out when the signature starts counts, once the grace has passed', async () => {
  const { stuck, end } = watching({ known: true, present: false, events: 4 }, { pollMs: 10, graceMs: 40 });
  await waitUntil(() => stuck.length > 0, 2000, 'the report');
  end();
  assert.match(stuck[0], /was pulled out/);
});

test('keys with no slot description, a slot too long for a reader, or a slot pcscd does not know, are not watched', async () => {
  const { r, read } = reader({ known: false, present: false, events: 0 });
  const watch = new ReaderWatch({ read, pollMs: 10, graceMs: 10 });
  watch.loaded([
    { blob: BLOB, slot: 'SoftHSM slot ID 0x1' },
    { blob: Buffer.from('no-slot'), slot: '' },
    { blob: Buffer.from('long-slot'), slot: 'x'.repeat(127) },
  ]);
  const stuck: string[] = [];
  const ends = ['no-slot', 'long-slot', 'never-loaded'].map((k) => watch.follow(Buffer.from(k), (why) => stuck.push(why)));
  assert.equal(r.asked, 0, 'nothing to ask for those keys');
  ends.push(watch.follow(BLOB, (why) => stuck.push(why)));
  await waitUntil(() => r.asked >= 1, 2000, 'the one question');
  await new Promise((res) => setTimeout(res, 60));
  assert.equal(r.asked, 1, 'a slot pcscd does not know as a reader is asked about once');
  assert.deepEqual(stuck, []);
  for (const end of ends) end();
});

test('while pcscd cannot be asked nothing is concluded, and the watch goes on', async () => {
  const { r, stuck, end } = watching(null, { pollMs: 10, graceMs: 20 }, 'Restarting Reader 00 00');
  await waitUntil(() => r.asked >= 4, 2000, 'questions going on');
  assert.deepEqual(stuck, []);
  r.state = { known: true, present: true, events: 1 };
  const asked = r.asked;
  await waitUntil(() => r.asked >= asked + 2, 2000, 'answers again');
  r.state = { known: true, present: false, events: 2 };
  await waitUntil(() => stuck.length > 0, 2000, 'the report once pcscd answers');
  end();
});

test('a key one load found in two readers (the same key on a backup card) is not watched; a token that moved is watched where it is now', async () => {
  const { r, read } = reader({ known: true, present: true, events: 1 });
  const watch = new ReaderWatch({ read, pollMs: 10, graceMs: 10 });
  watch.loaded([
    { blob: BLOB, slot: 'Reader A 00 00' },
    { blob: BLOB, slot: 'Reader B 00 00' },
  ]);
  const end = watch.follow(BLOB, () => assert.fail('watched'));
  await new Promise((res) => setTimeout(res, 40));
  assert.equal(r.asked, 0);
  end();
  watch.loaded([{ blob: BLOB, slot: 'Reader A 00 00' }]);
  watch.loaded([{ blob: BLOB, slot: 'Reader C 00 00' }]);
  const end2 = watch.follow(BLOB, () => undefined);
  await waitUntil(() => r.asked >= 1, 2000, 'a question');
  end2();
  assert.deepEqual([...new Set(r.names)], ['Reader C 00 00']);
});

test('signatures waiting on one reader share each question to pcscd', async () => {
  let release!: () => void;
  let asked = 0;
  const read = (): Promise<PcscReaderState | null> => {
    asked++;
    return new Promise((res) => (release = () => res({ known: true, present: true, events: 1 })));
  };
  const watch = new ReaderWatch({ read, pollMs: 1000, graceMs: 10 });
  watch.loaded([{ blob: BLOB, slot: READER }]);
  const ends = [1, 2, 3].map(() => watch.follow(BLOB, () => undefined));
  assert.equal(asked, 1);
  release();
  for (const end of ends) end();
});

// Last: its wedged questions stay out for good, as they would with a wedged pcscd.
test('a question pcscd never answers holds no more than itself: the watch goes on without it', async () => {
  let asked = 0;
  const read = (): Promise<PcscReaderState | null> => {
    asked++;
    return new Promise(() => undefined); // a wedged pcscd
  };
  const watch = new ReaderWatch({ read, pollMs: 10, graceMs: 10 });
  watch.loaded([{ blob: BLOB, slot: 'Wedged Reader 00 00' }, { blob: Buffer.from('k2'), slot: 'Wedged Reader 00 01' }, { blob: Buffer.from('k3'), slot: 'Third Reader 00 00' }]);
  const stuck: string[] = [];
  const ends = [BLOB, Buffer.from('k2'), Buffer.from('k3')].map((b) => watch.follow(b, (why) => stuck.push(why)));
  // Two readers' questions are out (the limit); the third reader is not asked about at all.
  await new Promise((res) => setTimeout(res, 1300));
  assert.equal(asked, 2, 'one question per reader, and at most two out at once');
  assert.deepEqual(stuck, []);
  for (const end of ends) end();
});

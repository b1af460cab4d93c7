import { SeenCommit } from './seen';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

describe('the newest commit this page has seen', () => {
  it('nothing at first; a listing’s commit, then a save’s', () => {
    const seen = new SeenCommit();
    const first = seen.forRead();
    expect(first.value).toBeUndefined();
    seen.read(first.ticket, A);
    expect(seen.value).toBe(A);
    seen.wrote(B);
    expect(seen.forRead().value).toBe(B);
  });

  it('a read sent before a save and answered after it does not move it back', () => {
    const seen = new SeenCommit();
    seen.wrote(A);
    const before = seen.forRead();
    seen.wrote(B);
    seen.read(before.ticket, A);
    expect(seen.value).toBe(B);
  });

  it('of two reads in flight, the first answer counts and the later one cannot undo it', () => {
    const seen = new SeenCommit();
    seen.wrote(A);
    const one = seen.forRead();
    const two = seen.forRead();
    seen.read(one.ticket, C);
    seen.read(two.ticket, B);
    expect(seen.value).toBe(C);
  });

  it('an answer at the commit already seen leaves reads in flight valid', () => {
    const seen = new SeenCommit();
    seen.wrote(A);
    const one = seen.forRead();
    const two = seen.forRead();
    seen.read(one.ticket, A);
    seen.read(two.ticket, B);
    expect(seen.value).toBe(B);
  });
});

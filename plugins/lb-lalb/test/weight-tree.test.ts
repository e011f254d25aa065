import t, { type Test } from 'tap';
import { WeightTree } from '../src/weight-tree.js';
import { seeded } from './fixtures/sim.js';

/** The weights of `weights` in the order a dice walks them: an in-order traversal of the tree. */
function inOrder(size: number, index = 0, out: number[] = []): number[] {
  if (index >= size) return out;
  inOrder(size, 2 * index + 1, out);
  out.push(index);
  inOrder(size, 2 * index + 2, out);
  return out;
}

function subtreeSum(weights: readonly number[], index: number): number {
  if (index >= weights.length) return 0;
  return weights[index]! + subtreeSum(weights, 2 * index + 1) + subtreeSum(weights, 2 * index + 2);
}

/** The linear reference: which node, and where inside it, a dice lands. */
function linearLocate(weights: readonly number[], dice: number): [number, number] {
  for (const index of inOrder(weights.length)) {
    if (dice < weights[index]!) return [index, dice];
    dice -= weights[index]!;
  }
  return [-1, 0];
}

function check(t: Test, tree: WeightTree, reference: readonly number[], random: () => number): boolean {
  const n = reference.length;
  if (tree.size !== n) return t.fail(`size ${tree.size} != ${n}`), false;
  const total = reference.reduce((a, b) => a + b, 0);
  if (tree.total !== total) return t.fail(`total ${tree.total} != ${total}`), false;
  for (let i = 0; i < n; i++) {
    if (tree.weightAt(i) !== reference[i]) return t.fail(`weight[${i}]`), false;
    const left = subtreeSum(reference, 2 * i + 1);
    if (tree.leftSumAt(i) !== left) return t.fail(`left[${i}] = ${tree.leftSumAt(i)}, expected ${left}`), false;
  }
  for (let k = 0; k < 8 && total > 0; k++) {
    const dice = Math.floor(random() * total);
    const [index, offset] = linearLocate(reference, dice);
    const got = tree.locate(dice);
    if (got !== index || tree.offset !== offset) {
      return t.fail(`locate(${dice}) = ${got}@${tree.offset}, expected ${index}@${offset}`), false;
    }
  }
  if (tree.locate(total) !== -1) return t.fail('a dice at total must land nowhere'), false;
  return true;
}

t.test('sums match a linear reference over many random add/remove/update operations', (t) => {
  for (const seed of [1, 2, 3, 42, 2024]) {
    const random = seeded(seed);
    const tree = new WeightTree(2);
    const reference: number[] = [];
    let ok = true;
    for (let op = 0; op < 4000 && ok; op++) {
      const r = random();
      // Weights span brpc's range (min weight 1000 .. ~1e12) plus zeros (endpoint.weight 0).
      const weight = random() < 0.1 ? 0 : Math.floor(random() * 10 ** (3 + Math.floor(random() * 10)));
      if (r < 0.35 || reference.length === 0) {
        const index = tree.push(weight);
        ok = index === reference.length || (t.fail('push index'), false);
        reference.push(weight);
      } else if (r < 0.6) {
        const index = Math.floor(random() * reference.length);
        const moved = tree.removeAt(index);
        const last = reference.length - 1;
        ok = moved === (index === last ? -1 : last) || (t.fail('moved index'), false);
        reference[index] = reference[last]!;
        reference.pop();
      } else {
        const index = Math.floor(random() * reference.length);
        tree.set(index, weight);
        reference[index] = weight;
      }
      if (ok) ok = check(t, tree, reference, random);
    }
    t.ok(ok, `seed ${seed}: consistent after 4000 operations`);
  }
  t.end();
});

t.test('draws follow the weights', (t) => {
  const tree = new WeightTree();
  const weights = [1, 2, 3, 4, 0, 10];
  for (const w of weights) tree.push(w);
  const counts = weights.map(() => 0);
  for (let dice = 0; dice < tree.total; dice++) counts[tree.locate(dice)]!++;
  t.same(counts, weights, 'each node owns exactly its weight of the dice range');
  t.end();
});

t.test('removing down to empty and refilling', (t) => {
  const tree = new WeightTree();
  tree.push(5);
  tree.push(7);
  t.equal(tree.removeAt(0), 1);
  t.equal(tree.total, 7);
  t.equal(tree.removeAt(0), -1);
  t.equal(tree.size, 0);
  t.equal(tree.total, 0);
  t.equal(tree.locate(0), -1);
  tree.push(3);
  t.equal(tree.locate(2), 0);
  t.end();
});

/**
 * Weighted random choice in O(log N), brpc's `weight_tree`: the nodes form a complete binary tree
 * stored in an array (children of i at 2i+1 and 2i+2); every node is itself a candidate and also
 * remembers the weight sum of its left subtree. A dice in [0, total) walks down from the root: left
 * if it falls below that sum, here if it falls within the node's own weight, else right.
 *
 * Changing one weight touches only its ancestors. Removal moves the last node into the hole, as
 * brpc does, so the tree stays complete. Weights must be non-negative integers: their sums are then
 * exact in doubles (below 2^53), which is what keeps the left sums consistent forever.
 */
export class WeightTree {
  private weights: Float64Array;
  private leftSums: Float64Array;
  private count = 0;
  private sum = 0;
  /** Where inside the located node's weight the dice fell; set by locate(). */
  offset = 0;

  constructor(initialCapacity = 16) {
    this.weights = new Float64Array(initialCapacity);
    this.leftSums = new Float64Array(initialCapacity);
  }

  get size(): number {
    return this.count;
  }

  get total(): number {
    return this.sum;
  }

  weightAt(index: number): number {
    return this.weights[index]!;
  }

  /** The weight sum of the left subtree of `index` (exposed for tests and diagnostics). */
  leftSumAt(index: number): number {
    return this.leftSums[index]!;
  }

  /** Appends a node; returns its index. */
  push(weight: number): number {
    if (this.count === this.weights.length) this.grow();
    const index = this.count++;
    this.weights[index] = weight;
    this.leftSums[index] = 0;
    this.addToAncestors(index, weight);
    this.sum += weight;
    return index;
  }

  set(index: number, weight: number): void {
    const diff = weight - this.weights[index]!;
    if (diff === 0) return;
    this.weights[index] = weight;
    this.addToAncestors(index, diff);
    this.sum += diff;
  }

  /**
   * Removes node `index` by moving the last node into its place. Returns the old index of the node
   * that moved (the caller re-points its bookkeeping), or -1 when the last node itself was removed.
   */
  removeAt(index: number): number {
    const last = this.count - 1;
    const lastWeight = this.weights[last]!;
    // The last node of a complete tree is a leaf, so its left sum is already 0: only its
    // ancestors carry its weight.
    this.addToAncestors(last, -lastWeight);
    this.sum -= lastWeight;
    this.count--;
    if (index === last) return -1;
    this.set(index, lastWeight);
    return last;
  }

  /**
   * The node whose weight range holds `dice` (0 ≤ dice < total), or -1 when it lies outside; sets
   * `offset` to the dice's position inside that node's range.
   */
  locate(dice: number): number {
    const n = this.count;
    let index = 0;
    while (index < n) {
      const left = this.leftSums[index]!;
      if (dice < left) {
        index = 2 * index + 1;
        continue;
      }
      dice -= left;
      const self = this.weights[index]!;
      if (dice < self) {
        this.offset = dice;
        return index;
      }
      dice -= self;
      index = 2 * index + 2;
    }
    return -1;
  }

  /** brpc `UpdateParentWeights`: add `diff` to every ancestor whose left subtree holds `index`. */
  private addToAncestors(index: number, diff: number): void {
    while (index !== 0) {
      const parent = (index - 1) >> 1;
      if (2 * parent + 1 === index) this.leftSums[parent] = this.leftSums[parent]! + diff;
      index = parent;
    }
  }

  private grow(): void {
    const capacity = Math.max(16, this.weights.length * 2);
    const weights = new Float64Array(capacity);
    const leftSums = new Float64Array(capacity);
    weights.set(this.weights);
    leftSums.set(this.leftSums);
    this.weights = weights;
    this.leftSums = leftSums;
  }
}

// CI: a user's code type-checked against the built declarations (dist/*.d.ts) as the package ships them:
// the public API is usable, and the members marked @internal are not part of it.
import { type Tensor, tensor } from 'polygrad';

const t: Tensor = tensor([1, 2, 3]);
export async function doubled(): Promise<ArrayLike<number>> {
  return await t.mul(2).data();
}
// @ts-expect-error graph nodes are internal
t.node();
// @ts-expect-error building tensors from nodes is internal
t.make(t as never, 'op');

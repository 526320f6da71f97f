// Weight files opened from disk (Node only: the browser streams weights over HTTP, app/web/weights.ts): a torch.save
// zip or safetensors, told apart by content, as a TensorSource.
import * as fs from 'node:fs';
import { SafetensorsFile } from './safetensors.js';
import type { TensorSource } from './state.js';
import { TorchCheckpoint } from './torch.js';

/** A torch.save zip ("PK"), whatever the file is called (the release names its pickle model.safetensors). */
export function isTorchZip(path: string): boolean {
  const head = Buffer.alloc(4),
    fd = fs.openSync(path, 'r');
  fs.readSync(fd, head, 0, 4, 0);
  fs.closeSync(fd);
  return head.readUInt32LE(0) === 0x04034b50;
}

export function openWeights(path: string): TensorSource {
  if (isTorchZip(path)) {
    const ck = new TorchCheckpoint(path);
    return {
      names: [...ck.tensors.keys()],
      shape: (n) => ck.tensors.get(n)!.shape,
      read: (n) => ck.tensors.get(n)!.read(),
      readRange: (n, start, count) => ck.tensors.get(n)!.readRange(start, count),
      close: () => ck.close(),
    };
  }
  const st = new SafetensorsFile(path);
  return {
    names: [...st.tensors.keys()],
    shape: (n) => st.tensors.get(n)!.shape,
    read: (n) => st.read(n),
    readRange: (n, start, count) => st.readRange(n, start, count),
    close: () => st.close(),
  };
}

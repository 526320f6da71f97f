// A device that runs nothing: it takes another device's capabilities and language, so graphs schedule, optimize,
// render and launch exactly as they would there, but buffers hold no memory and kernels do not execute. It
// measures what polygrad itself costs on the host (scheduling, rendering, launching, replaying) and lets a model
// far larger than this machine's memory be planned.
import type { Kernel } from '../codegen/kernel.js';
import type { Language, Rendered } from '../codegen/render.js';
import type { Backend, Caps, DeviceBuffer, DeviceGraph, Program } from './backend.js';

export class NullBackend implements Backend {
  readonly description: string;
  /** Launches seen, and the bytes allocated and still live (for plans). */
  launches = 0;
  live = 0;
  peak = 0;

  constructor(
    readonly name: string,
    readonly caps: Caps,
    readonly language: Language,
    like = 'a device',
  ) {
    this.description = `nothing runs: ${like}'s capabilities and ${language.name} kernels`;
  }

  alloc(bytes: number): DeviceBuffer {
    this.live += bytes;
    this.peak = Math.max(this.peak, this.live);
    return { bytes };
  }
  free(b: DeviceBuffer): void {
    this.live -= b.bytes;
  }
  write(): void {}
  async read(b: DeviceBuffer): Promise<Uint8Array> {
    return new Uint8Array(b.bytes);
  }
  async compile(kernel: Kernel, { source }: Rendered): Promise<Program> {
    return { name: kernel.name, source };
  }
  launch(): void {
    this.launches++;
  }
  async sync(): Promise<void> {}
  async takeTimes(): Promise<number[]> {
    return [];
  }
  graph(launches: readonly unknown[]): DeviceGraph {
    return {
      run: () => {
        this.launches += launches.length;
      },
      dispose: () => {},
    };
  }
}

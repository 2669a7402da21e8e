/** `venue start`: placeholder until the demo flow lands. */
export function startCommand(_options: { commands: string | undefined; seed: string | undefined }): number {
  return 0;
}

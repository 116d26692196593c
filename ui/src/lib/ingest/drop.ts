// What a drop onto the window means: GGUF files are models to import; everything else goes
// to the collection (folders are searched by the backend, which also names unsupported files).

export function routeDrop(paths: string[]): { documents: string[]; models: string[] } {
  const isModel = (path: string) => path.toLowerCase().endsWith(".gguf");
  return {
    documents: paths.filter((p) => !isModel(p)),
    models: paths.filter(isModel),
  };
}

export declare const BROWSER_DIR: string;
export declare function buildBrowser(options?: { outDir?: string }): Promise<Array<{ file: string; bytes: number }>>;
export declare function browserBundleStale(outDir?: string): boolean;

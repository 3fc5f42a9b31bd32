import { useCallback, useEffect, useState } from "react";

const PREFIX = "#/c/";

function current(): string | null {
  const hash = window.location.hash;
  return hash.startsWith(PREFIX) ? decodeURIComponent(hash.slice(PREFIX.length)) || null : null;
}

/** The open conversation lives in the URL (`#/c/<id>`): links, reloads and Back work. */
export function useHashRoute(): [string | null, (id: string | null) => void] {
  const [id, setId] = useState<string | null>(current);
  useEffect(() => {
    const onChange = () => setId(current());
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  const open = useCallback((next: string | null) => {
    window.location.hash = next === null ? "" : `${PREFIX}${encodeURIComponent(next)}`;
    setId(next);
  }, []);
  return [id, open];
}

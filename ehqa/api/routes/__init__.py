"""The routes, one module per area, each an APIRouter; no route module imports another."""

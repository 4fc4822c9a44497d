"""All scene geometry in one place: boxes, distances, room area, camera projection.

Everything is in the axis-aligned world frame (ScanNet's axisAlignment applied), z up, metres. Pure numpy/scipy,
vectorised over points; no Open3D or alphashape dependency.
"""

from __future__ import annotations

import math

import numpy as np

from spatialladder.scannet.types import Box3D, Instance, SceneMeta
from spatialladder.vocab import DISTANCE_METHODS

_EPS = 1e-12


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4×4 homogeneous transform to (N, 3) points."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:3, :3].T + matrix[:3, 3]


def _right_handed(rotation: np.ndarray) -> np.ndarray:
    if np.linalg.det(rotation) < 0:
        rotation = rotation.copy()
        rotation[:, 2] = -rotation[:, 2]
    return rotation


def _box_in_frame(points: np.ndarray, rotation: np.ndarray) -> Box3D:
    """Tightest box of ``points`` whose axes are the columns of ``rotation``."""
    local = points @ rotation
    lo, hi = local.min(axis=0), local.max(axis=0)
    centroid = rotation @ ((lo + hi) / 2.0)
    return Box3D(centroid=centroid, axes_lengths=hi - lo, rotation=rotation)


def _hull_xy(xy: np.ndarray) -> np.ndarray:
    """Convex-hull vertices of 2D points in order; degenerate inputs return the unique points."""
    from scipy.spatial import ConvexHull, QhullError

    unique = np.unique(xy, axis=0)
    if len(unique) < 3:
        return unique
    try:
        hull = ConvexHull(unique)
    except QhullError:  # all collinear
        return unique
    return unique[hull.vertices]


def min_area_rectangle(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-area enclosing rectangle (rotating calipers over hull edges).

    Returns (centre (2,), extents (2,), axes (2, 2) with the rectangle axes as columns).
    """
    xy = np.asarray(xy, dtype=np.float64)
    hull = _hull_xy(xy)
    if len(hull) < 3:
        # Points on a line (or one point): align the first axis with the line.
        direction = hull[-1] - hull[0] if len(hull) > 1 else np.array([1.0, 0.0])
        norm = np.linalg.norm(direction)
        u = direction / norm if norm > _EPS else np.array([1.0, 0.0])
        angles = np.array([math.atan2(u[1], u[0])])
    else:
        edges = np.roll(hull, -1, axis=0) - hull
        angles = np.mod(np.arctan2(edges[:, 1], edges[:, 0]), np.pi / 2)
        angles = np.unique(np.round(angles, 12))
    cos, sin = np.cos(angles), np.sin(angles)
    # Project hull points on (u, v) for every candidate angle at once: (A, H).
    pu = hull[:, 0][None, :] * cos[:, None] + hull[:, 1][None, :] * sin[:, None]
    pv = -hull[:, 0][None, :] * sin[:, None] + hull[:, 1][None, :] * cos[:, None]
    areas = (pu.max(1) - pu.min(1)) * (pv.max(1) - pv.min(1))
    best = int(np.argmin(np.round(areas, 12)))
    c, s = cos[best], sin[best]
    axes = np.array([[c, -s], [s, c]])
    lo = np.array([pu[best].min(), pv[best].min()])
    hi = np.array([pu[best].max(), pv[best].max()])
    return axes @ ((lo + hi) / 2.0), hi - lo, axes


def gravity_aligned_box(points: np.ndarray) -> Box3D:
    """Minimum-area rectangle of the XY convex hull × z extent: an upright box, the default object box.

    Why: objects stand on the floor, and an upright box keeps "height" meaningful and is stable under mesh noise,
    unlike a fully free minimal box (which VSI-Bench used via Open3D; see ``minimal_box``).
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3 or len(points) == 0:
        raise ValueError(f"expected (N, 3) points with N ≥ 1, got shape {points.shape}")
    centre, extents, axes = min_area_rectangle(points[:, :2])
    zmin, zmax = points[:, 2].min(), points[:, 2].max()
    rotation = np.eye(3)
    rotation[:2, :2] = axes
    return Box3D(
        centroid=np.array([centre[0], centre[1], (zmin + zmax) / 2.0]),
        axes_lengths=np.array([extents[0], extents[1], zmax - zmin]),
        rotation=rotation,
    )


def minimal_box(points: np.ndarray, chunk: int = 256) -> Box3D:
    """Approximate minimum-volume oriented box, as Open3D's ``get_minimal_oriented_bounding_box``.

    Same algorithm as Open3D ``ComputeMinimumOBBApprox``: for each convex-hull facet take the box aligned with
    (facet edge, facet normal, their cross product) and keep the smallest volume; the axis-aligned box is the
    starting candidate. Degenerate (flat/linear) inputs fall back to ``gravity_aligned_box``.
    """
    from scipy.spatial import ConvexHull, QhullError

    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3 or len(points) == 0:
        raise ValueError(f"expected (N, 3) points with N ≥ 1, got shape {points.shape}")
    try:
        hull = ConvexHull(points)
    except (QhullError, ValueError):
        return gravity_aligned_box(points)
    verts = points[hull.vertices]
    tri = points[hull.simplices]  # (T, 3, 3)
    u = tri[:, 1] - tri[:, 0]
    u /= np.linalg.norm(u, axis=1, keepdims=True) + _EPS
    w = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    w /= np.linalg.norm(w, axis=1, keepdims=True) + _EPS
    v = np.cross(w, u)
    frames = np.stack([u, v, w], axis=2)  # (T, 3, 3): columns u, v, w
    best_rot, best_vol = np.eye(3), float(np.prod(np.ptp(verts, axis=0)))
    for start in range(0, len(frames), chunk):
        block = frames[start : start + chunk]
        local = np.einsum("hi,tij->thj", verts, block)  # (t, H, 3)
        vols = np.prod(local.max(axis=1) - local.min(axis=1), axis=1)
        k = int(np.argmin(vols))
        if vols[k] < best_vol - 1e-12:
            best_vol, best_rot = float(vols[k]), block[k]
    return _box_in_frame(points, _right_handed(best_rot))


BOX_FUNCTIONS = {"gravity": gravity_aligned_box, "minimal": minimal_box}


# --------------------------------------------------------------------------------------------------- distances


def point_box_distance_m(points: np.ndarray, box: Box3D) -> np.ndarray:
    """Exact Euclidean distance from each point to the solid box (0 inside)."""
    local = (np.asarray(points, dtype=np.float64) - box.centroid) @ box.rotation
    excess = np.maximum(np.abs(local) - box.axes_lengths / 2.0, 0.0)
    return np.linalg.norm(excess, axis=-1)


_BOX_EDGES = np.array([(a, b) for a in range(8) for b in range(a + 1, 8) if bin(a ^ b).count("1") == 1])


def _segment_segment_distance(p1: np.ndarray, q1: np.ndarray, p2: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """Exact distances between segment pairs [p1,q1]–[p2,q2], all (M, 3), vectorised (Ericson, RTCD §5.1.9)."""
    d1, d2, r = q1 - p1, q2 - p2, p1 - p2
    a = np.einsum("ij,ij->i", d1, d1)
    e = np.einsum("ij,ij->i", d2, d2)
    f = np.einsum("ij,ij->i", d2, r)
    c = np.einsum("ij,ij->i", d1, r)
    b = np.einsum("ij,ij->i", d1, d2)
    denom = a * e - b * b
    s = np.where(denom > _EPS, np.clip((b * f - c * e) / np.where(denom > _EPS, denom, 1.0), 0.0, 1.0), 0.0)
    t = (b * s + f) / np.where(e > _EPS, e, 1.0)
    t_clamped = np.clip(t, 0.0, 1.0)
    s = np.where(t != t_clamped, np.clip((b * t_clamped - c) / np.where(a > _EPS, a, 1.0), 0.0, 1.0), s)
    c1 = p1 + d1 * s[:, None]
    c2 = p2 + d2 * t_clamped[:, None]
    return np.linalg.norm(c1 - c2, axis=1)


def _boxes_overlap(a: Box3D, b: Box3D) -> bool:
    """Separating-axis test for two oriented boxes (15 candidate axes)."""
    axes = [a.rotation[:, i] for i in range(3)] + [b.rotation[:, i] for i in range(3)]
    axes += [np.cross(a.rotation[:, i], b.rotation[:, j]) for i in range(3) for j in range(3)]
    axes = np.array(axes)
    norms = np.linalg.norm(axes, axis=1)
    axes = axes[norms > 1e-9] / norms[norms > 1e-9, None]
    ca, cb = a.corners @ axes.T, b.corners @ axes.T  # (8, K)
    separated = (ca.max(0) < cb.min(0) - 1e-12) | (cb.max(0) < ca.min(0) - 1e-12)
    return not bool(separated.any())


def box_box_distance_m(a: Box3D, b: Box3D) -> float:
    """Exact distance between two solid oriented boxes (0 when they overlap).

    For disjoint convex polytopes the closest pair is vertex–solid or edge–edge, so the minimum over the 16
    corner-to-box distances and the 144 edge pairs is exact.
    """
    if _boxes_overlap(a, b):
        return 0.0
    ca, cb = a.corners, b.corners
    best = min(point_box_distance_m(ca, b).min(), point_box_distance_m(cb, a).min())
    ea, eb = _BOX_EDGES, _BOX_EDGES
    ia = np.repeat(np.arange(len(ea)), len(eb))
    ib = np.tile(np.arange(len(eb)), len(ea))
    seg = _segment_segment_distance(ca[ea[ia, 0]], ca[ea[ia, 1]], cb[eb[ib, 0]], cb[eb[ib, 1]])
    return float(min(best, seg.min()))


def point_set_distance_m(a: np.ndarray, b: np.ndarray) -> float:
    """Minimum Euclidean distance between two point sets (exact for the sets).

    KD-tree nearest-neighbour queries are slow when the sets are far apart (every grid point looks equally near),
    so an upper bound from subsamples first prunes points that cannot be closest and caps the search radius.
    """
    from scipy.spatial import cKDTree

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("point_set_distance_m needs two non-empty point sets")
    sub_a, sub_b = a[:: max(1, len(a) // 256)], b[:: max(1, len(b) // 256)]
    bound = float(cKDTree(sub_b).query(sub_a, k=1)[0].min())
    if bound == 0.0:
        return 0.0

    def near(points: np.ndarray, other: np.ndarray) -> np.ndarray:
        lo, hi = other.min(axis=0), other.max(axis=0)
        gap = np.maximum(np.maximum(lo - points, points - hi), 0.0)
        return points[np.einsum("ij,ij->i", gap, gap) <= bound * bound * (1 + 1e-9)]

    a, b = near(a, b), near(b, a)
    if len(a) < len(b):
        a, b = b, a
    dist, _ = cKDTree(a).query(b, k=1, distance_upper_bound=bound * (1 + 1e-9) + 1e-12)
    return float(min(bound, dist.min()))


def closest_distance_m(a: Instance, b: Instance) -> float:
    """Closest-point distance between two objects.

    Uses the instances' mesh points when both have them (exact for the point sets); otherwise the exact distance
    between the two solid oriented boxes. VSI-Bench sampled points inside the boxes on a 5 cm grid instead
    (see docs/fidelity.md); both agree within a few cm.
    """
    if a.points is not None and b.points is not None and len(a.points) and len(b.points):
        return point_set_distance_m(a.points, b.points)
    return box_box_distance_m(a.box, b.box)


VSI_GRID_SPACING_M = 0.05
"""Grid step of VSI-Bench's box point sample (``sample_points_in_oriented_bbox_uniform(bbox, distance=0.05)``)."""


def vsi_grid_points(box: Box3D, spacing_m: float = VSI_GRID_SPACING_M) -> np.ndarray:
    """VSI-Bench's point sample of a box, reproduced to the float (world frame, (N, 3)).

    Source: VITA-Group/VLM-3R ``vlm_3r_data_process/src/utils/common_utils.py``
    ``sample_points_in_oriented_bbox_uniform``: ``ceil(extent/step)`` linspace points per box axis over
    ``[-extent/2, extent/2]``, ``np.meshgrid`` order, the inner core (every ``|coord| <= extent/4``) dropped,
    ``np.dot(points, R.T) + center``, then Open3D 0.19's ``OrientedBoundingBox`` crop, which keeps a point when on
    every axis i ``|d0*R[0,i] + d1*R[1,i] + d2*R[2,i]| <= extent_i/2`` for ``d = p - center``, summed in that order
    (a matrix product rounds differently and flips points on the faces). An empty crop halves the step.
    VSI recurses forever on a zero extent (0 linspace points); that axis is sampled at its centre here instead.
    """
    extent, rotation, center = box.axes_lengths, box.rotation, box.centroid
    while True:
        counts = [max(int(np.ceil(extent[i] / spacing_m)), 1) for i in range(3)]
        axes = [np.linspace(-extent[i] / 2, extent[i] / 2, counts[i]) for i in range(3)]
        xx, yy, zz = np.meshgrid(*axes)
        local = np.vstack([xx.ravel(), yy.ravel(), zz.ravel()]).T
        local = local[np.any(np.abs(local) > extent / 4, axis=1)]
        points = np.dot(local, rotation.T)
        points += center
        d = points - center
        keep = np.ones(len(points), dtype=bool)
        for i in range(3):
            keep &= np.abs(d[:, 0] * rotation[0, i] + d[:, 1] * rotation[1, i] + d[:, 2] * rotation[2, i]) <= (
                extent[i] / 2
            )
        if keep.any() or spacing_m < 1e-6:
            return points[keep] if keep.any() else center[None, :].copy()
        spacing_m *= 0.5


def min_pairwise_distance_m(a: np.ndarray, b: np.ndarray) -> float:
    """``np.min(scipy.spatial.distance.cdist(a, b))``, the same float, without the (N, M) matrix.

    An upper bound from subsamples prunes every point farther than it from the other set's bounding box (such a
    point cannot be in the closest pair); what is left is small and goes through ``cdist`` itself, so the value is
    cdist's own float (VSI-Bench rounds it to 0.1 m, and a last-bit difference can flip a rounding tie). Large
    remainders (parallel faces close together) are narrowed with a KD-tree first.
    """
    from scipy.spatial import cKDTree
    from scipy.spatial.distance import cdist

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("min_pairwise_distance_m needs two non-empty point sets")
    sub_a, sub_b = a[:: max(1, len(a) // 256)], b[:: max(1, len(b) // 256)]
    bound = float(cdist(sub_a, sub_b).min()) * (1 + 1e-9) + 1e-12

    def near(points: np.ndarray, other: np.ndarray) -> np.ndarray:
        gap = np.maximum(np.maximum(other.min(axis=0) - points, points - other.max(axis=0)), 0.0)
        return points[np.einsum("ij,ij->i", gap, gap) <= bound * bound]

    a, b = near(a, b), near(b, a)
    if len(a) * len(b) > 4_000_000:
        if len(a) < len(b):
            a, b = b, a
        tree = cKDTree(a)
        nearest, _ = tree.query(b, k=1, distance_upper_bound=bound)
        best = float(nearest.min())
        slack = best * 1e-9 + 1e-12
        b = b[nearest <= best + slack]
        a = a[sorted({j for hits in tree.query_ball_point(b, best + slack) for j in hits})]
    return float(cdist(a, b).min())


def _instance_distance_m(scene: SceneMeta, a: Instance, b: Instance) -> float:
    """Distance between two instances by ``scene.distance_method``, memoised in ``scene.distance_cache``."""
    method = scene.distance_method
    key = (method, *sorted((a.instance_id, b.instance_id)))
    cache = scene.distance_cache
    if key not in cache:
        if method == "vsi_grid":
            pa, pb = (_vsi_points(scene, x) for x in (a, b))
            cache[key] = min_pairwise_distance_m(pa, pb)
        elif method == "exact":
            cache[key] = closest_distance_m(a, b)
        else:
            raise ValueError(f"unknown distance method {method!r}; expected one of {list(DISTANCE_METHODS)}")
    return cache[key]


def _vsi_points(scene: SceneMeta, instance: Instance) -> np.ndarray:
    key = ("vsi_grid_points", instance.instance_id)
    if key not in scene.distance_cache:
        scene.distance_cache[key] = vsi_grid_points(instance.box)
    return scene.distance_cache[key]


def category_distance_m(scene: SceneMeta, cat_a: str, cat_b: str) -> float:
    """Minimum distance over all instance pairs of two categories (VSI ``cal_3d_bbox_distance_between_categories``).

    ``scene.distance_method`` picks the instance distance: ``vsi_grid`` (default, VSI-Bench's box point sample,
    ``vsi_grid_points``) or ``exact`` (mesh points when the scan has them, else the exact solid box distance).
    Instance pairs are visited in order of their exact box distance, a lower bound of both methods, and the search
    stops once that bound exceeds the best distance found: a pair of many-instance categories costs a few pairs.
    """
    inst_a, inst_b = scene.instances_of(cat_a), scene.instances_of(cat_b)
    if not inst_a or not inst_b:
        missing = cat_a if not inst_a else cat_b
        raise KeyError(f"scene {scene.scene_id} has no instance of category {missing!r}")
    pairs = [(x, y) for x in inst_a for y in inst_b]
    if len(pairs) == 1:
        return _instance_distance_m(scene, *pairs[0])
    bounds = [_box_bound_m(scene, x, y) for x, y in pairs]
    best = np.inf
    for k in np.argsort(bounds, kind="stable"):
        if bounds[k] > best:
            break
        best = min(best, _instance_distance_m(scene, *pairs[k]))
    return float(best)


def _box_bound_m(scene: SceneMeta, a: Instance, b: Instance) -> float:
    """Exact solid-box distance, a lower bound of the point-sample distance (sampled points lie in the boxes)."""
    key = ("box", *sorted((a.instance_id, b.instance_id)))
    if key not in scene.distance_cache:
        scene.distance_cache[key] = box_box_distance_m(a.box, b.box)
    return scene.distance_cache[key] - 1e-9


# --------------------------------------------------------------------------------------------------- room area


def _triangle_circumradius(p: np.ndarray) -> np.ndarray:
    """Circumradius of each triangle in (T, 3, 2); infinite for degenerate triangles."""
    a = np.linalg.norm(p[:, 1] - p[:, 2], axis=1)
    b = np.linalg.norm(p[:, 0] - p[:, 2], axis=1)
    c = np.linalg.norm(p[:, 0] - p[:, 1], axis=1)
    area2 = np.abs(
        (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 2, 0] - p[:, 0, 0]) * (p[:, 1, 1] - p[:, 0, 1])
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        r = a * b * c / (2.0 * area2)
    return np.where(area2 > _EPS, r, np.inf), area2 / 2.0


def alpha_shape_area_m2(xy: np.ndarray, alpha: float = 5.0, fill_holes: bool = True) -> float:
    """Area of the 2D alpha shape: Delaunay triangles with circumradius < 1/alpha, unioned.

    Delaunay triangles do not overlap, so the union area is the sum of kept triangle areas. The ``alphashape``
    package (VSI-Bench's tool) rebuilds polygons from the kept triangles' perimeter edges with ``polygonize``,
    which also fills every region fully enclosed by kept triangles; ``fill_holes=True`` reproduces that by adding
    each edge-connected group of rejected triangles that never touches the convex hull.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import Delaunay, QhullError

    xy = np.asarray(xy, dtype=np.float64)
    if len(np.unique(xy, axis=0)) < 3:
        return 0.0
    try:
        tri = Delaunay(xy)
    except QhullError:  # collinear
        return 0.0
    radius, areas = _triangle_circumradius(xy[tri.simplices])
    kept = radius < 1.0 / alpha
    total = float(areas[kept].sum())
    if not fill_holes or kept.all():
        return total
    rejected = np.flatnonzero(~kept)
    index = -np.ones(len(kept), dtype=np.int64)
    index[rejected] = np.arange(len(rejected))
    nbr = tri.neighbors[rejected]  # (R, 3), -1 = convex-hull edge
    touches_hull = (nbr < 0).any(axis=1)
    nbr_index = np.where(nbr >= 0, index[np.maximum(nbr, 0)], -1)
    rows = np.repeat(np.arange(len(rejected)), 3)
    cols = nbr_index.ravel()
    ok = cols >= 0
    graph = coo_matrix((np.ones(ok.sum()), (rows[ok], cols[ok])), shape=(len(rejected), len(rejected)))
    _, labels = connected_components(graph, directed=False)
    open_components = np.unique(labels[touches_hull])
    enclosed = ~np.isin(labels, open_components)
    return total + float(areas[rejected][enclosed].sum())


def room_area_m2(
    points_xy: np.ndarray,
    rng: np.random.Generator,
    n_samples: int = 10000,
    alpha: float = 5.0,
    fill_holes: bool = True,
) -> float:
    """Room floor area by the VSI rule: alpha shape (alpha=5 → circumradius < 0.2 m) of 10,000 XY points.

    Points are drawn with replacement from the whole scene cloud (walls and furniture included), as VSI-Bench
    did, but from a seeded generator so the number is reproducible (VSI used unseeded ``np.random.choice``).
    """
    points_xy = np.asarray(points_xy, dtype=np.float64)[:, :2]
    if len(points_xy) == 0:
        raise ValueError("room_area_m2 needs at least one point")
    idx = rng.choice(len(points_xy), size=n_samples, replace=True)
    return alpha_shape_area_m2(points_xy[idx], alpha=alpha, fill_holes=fill_holes)


def room_center(points: np.ndarray, box_type: str = "minimal") -> np.ndarray:
    """Centre of the scene cloud's oriented box (VSI: Open3D minimal OBB of the whole cloud)."""
    return BOX_FUNCTIONS[box_type](points).centroid


# --------------------------------------------------------------------------------------------------- projection


def project_points(
    points_world: np.ndarray, world_to_camera: np.ndarray, intrinsic: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pinhole projection (OpenCV camera: x right, y down, z forward).

    Returns (u, v, z) float arrays: continuous pixel coordinates (pixel centres at integers) and camera depth.
    ``intrinsic`` is 3×3 or 4×4; the 4×4 form's K[0,3], K[1,3] offsets are honoured as in ScanNet's reader.
    """
    cam = transform_points(world_to_camera, points_world)
    x, y, z = cam[:, 0], cam[:, 1], cam[:, 2]
    fx, fy, cx, cy = intrinsic[0, 0], intrinsic[1, 1], intrinsic[0, 2], intrinsic[1, 2]
    bx = intrinsic[0, 3] if intrinsic.shape[1] > 3 else 0.0
    by = intrinsic[1, 3] if intrinsic.shape[1] > 3 else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (x - bx) * fx / z + cx
        v = (y - by) * fy / z + cy
    return u, v, z


def depth_visible_mask(
    u: np.ndarray, v: np.ndarray, z: np.ndarray, depth_m: np.ndarray, ratio: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """VSI depth test on projected points.

    A point is *in view* when z > 0 and its rounded pixel ``int(u+0.5), int(v+0.5)`` lies in the depth image; it is
    *visible* when additionally the depth map is valid there (D > 0) and ``|D − z| ≤ ratio·D``.
    Returns (in_view, visible) boolean masks.
    """
    h, w = depth_m.shape
    with np.errstate(invalid="ignore"):
        ui = np.floor(u + 0.5)
        vi = np.floor(v + 0.5)
        in_view = (z > 0) & (ui >= 0) & (ui < w) & (vi >= 0) & (vi < h)
    visible = np.zeros_like(in_view)
    idx = np.flatnonzero(in_view)
    d = depth_m[vi[idx].astype(np.int64), ui[idx].astype(np.int64)]
    visible[idx] = (d > 0) & (np.abs(d - z[idx]) <= ratio * d)
    return in_view, visible


def ccw_angle_deg(forward_xy: np.ndarray, vectors_xy: np.ndarray) -> np.ndarray:
    """Counter-clockwise angle in [0, 360) from ``forward_xy`` to each of ``vectors_xy`` (N, 2), z up.

    Counter-clockwise is towards the observer's left. Same construction as VSI-Bench: arccos of the normalised
    dot product, mirrored to 360 − angle when the 2D cross product is negative.
    """
    f = np.asarray(forward_xy, dtype=np.float64)
    q = np.atleast_2d(np.asarray(vectors_xy, dtype=np.float64))
    cos = (q @ f) / (np.linalg.norm(q, axis=1) * np.linalg.norm(f))
    angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    cross = f[0] * q[:, 1] - f[1] * q[:, 0]
    return np.where(cross < 0, 360.0 - angle, angle) % 360.0


def signed_turn_deg(heading_xy: np.ndarray, new_heading_xy: np.ndarray) -> float:
    """Signed heading change in (−180, 180]: positive = turn left (counter-clockwise), z up."""
    angle = float(ccw_angle_deg(heading_xy, new_heading_xy)[0])
    return angle - 360.0 if angle > 180.0 else angle

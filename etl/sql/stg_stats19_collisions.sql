-- Stage DfT STATS19 collision rows: cast once, decode codes with the DfT code lists, derive the force,
-- the local date-time, month, ISO week start (Monday), day of week and hour; the date must lie in the
-- load's date window (macro outside_date_window, etl/plausibility.py). A row is in scope when its
-- police force is one of those chosen (or every force), or when it cannot be attributed (then a reject).
with

source as (
    select * from raw_stats19_collision
),

codes as (
    select * from stats19_codes
),

forces as (
    select * from stats19_forces
),

chosen as (
    select * from stats19_chosen
),

typed as (
    select
        row_ordinal,
        nullif(collision_index, '')                                               as collision_index,
        try_cast(collision_year as integer)                                       as collision_year,
        nullif(collision_ref_no, '')                                              as collision_ref_no,
        police_force                                                              as police_force_text,
        try_cast(police_force as integer)                                         as police_force_code,
        collision_severity                                                        as severity_text,
        try_cast(collision_severity as integer)                                   as severity_code,
        date                                                                      as date_text,
        coalesce(try_strptime(date, '%d/%m/%Y'), try_strptime(date, '%Y-%m-%d'))::date as collision_date,
        time                                                                      as time_text,
        coalesce(try_strptime(time, '%H:%M'), try_strptime(time, '%H:%M:%S'))::time   as collision_time,
        try_cast(day_of_week as integer)                                          as day_of_week_code,
        try_cast(longitude as double)                                             as longitude,
        try_cast(latitude as double)                                              as latitude,
        try_cast(number_of_vehicles as integer)                                   as number_of_vehicles,
        try_cast(number_of_casualties as integer)                                 as number_of_casualties,
        try_cast(speed_limit as integer)                                          as speed_limit_code,
        try_cast(road_type as integer)                                            as road_type_code,
        try_cast(urban_or_rural_area as integer)                                  as urban_or_rural_code,
        try_cast(light_conditions as integer)                                     as light_conditions_code,
        try_cast(weather_conditions as integer)                                   as weather_conditions_code,
        case
            when local_authority_ons_district similar to '[EWSN][0-9]{8}' then local_authority_ons_district
            when local_authority_district not in ('', '-1', 'NULL') then local_authority_district
        end                                                                       as local_authority_district,
        case when lsoa_of_collision_location similar to '[EWSN][0-9]{8}' then lsoa_of_collision_location end
                                                                                  as lsoa_code
    from source
),

decoded as (
    select
        typed.*,
        forces.police_force_name,
        forces.force_id,
        (select label from codes where variable = 'collision_severity' and code = typed.severity_code)     as severity,
        (select label from codes where variable = 'road_type' and code = typed.road_type_code)             as road_type,
        (select label from codes where variable = 'urban_or_rural_area' and code = typed.urban_or_rural_code) as urban_or_rural,
        (select label from codes where variable = 'light_conditions' and code = typed.light_conditions_code) as light_conditions,
        (select label from codes where variable = 'weather_conditions' and code = typed.weather_conditions_code) as weather_conditions,
        (select label from codes where variable = 'day_of_week' and code = typed.day_of_week_code)         as day_of_week_label,
        case when typed.speed_limit_code in (20, 30, 40, 50, 60, 70) then typed.speed_limit_code end   as speed_limit
    from typed
    left join forces on forces.police_force_code = typed.police_force_code
),

checked as (
    select
        decoded.*,
        case
            when collision_index is null
                then 'collision_index (accident_index) is empty'
            when police_force_name is null
                then 'police_force ''' || coalesce(police_force_text, '') || ''' is not a DfT police force code'
            when severity is null
                then 'collision severity ''' || coalesce(severity_text, '') || ''' is not 1 (fatal), 2 (serious) or 3 (slight)'
            when collision_date is null
                then 'date ''' || coalesce(date_text, '') || ''' is not a date (dd/mm/yyyy)'
            when outside_date_window('date ' || date_text, collision_date) is not null
                then outside_date_window('date ' || date_text, collision_date)
            when time_text not in ('', '-1', 'NULL') and collision_time is null
                then 'time ''' || time_text || ''' is not a time (HH:MM)'
            when (longitude is null) <> (latitude is null)
                then 'only one of longitude and latitude is given'
            when longitude not between -8.75 and 1.85 or latitude not between 49.8 and 60.95
                then 'coordinates (' || longitude || ', ' || latitude || ') are outside the UK'
        end as reject_reason,
        police_force_name is null
            or exists (select 1 from chosen where chosen.all_forces or chosen.police_force_code = decoded.police_force_code)
            as in_scope
    from decoded
),

final as (
    select
        collision_index,
        coalesce(collision_year, year(collision_date))::integer                     as collision_year,
        collision_ref_no,
        police_force_code,
        police_force_name,
        force_id,
        severity_code,
        severity,
        collision_date,
        collision_time,
        collision_date + coalesce(collision_time, time '00:00')                     as occurred_at,
        date_trunc('month', collision_date)::date                                   as month,
        (collision_date - (isodow(collision_date) - 1)::integer)::date              as week_start,
        coalesce(day_of_week_label, dayname(collision_date))                        as day_of_week,
        hour(collision_time)::integer                                               as hour,
        longitude,
        latitude,
        number_of_vehicles,
        number_of_casualties,
        speed_limit,
        road_type,
        urban_or_rural,
        light_conditions,
        weather_conditions,
        local_authority_district,
        lsoa_code,
        row_ordinal,
        reject_reason,
        in_scope
    from checked
)

select * from final
